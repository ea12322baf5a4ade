import Contract
import Foundation

/// The figures of one run, computed from samples taken after the warm-up and at the end.
struct PipelineReport: Encodable {
    struct Salesforce: Encodable {
        /// API requests counted against the org's daily allocation.
        let apiCalls: Int
        /// Records carried by successful writes (a collection counts each record).
        let recordsWritten: Int
        let callsPerRecord: Double
        let maxRecordsPerCall: Int
        let callsByOperation: [String: Int]
        let target = 0.01
    }

    struct NetSuite: Encodable {
        let requests: Int
        let peakInFlight: Int
        let concurrencyLimit: Int
        /// Peak in flight over the limit: 1 is the limit fully used, above 1 would be a breach.
        let peakShareOfLimit: Double
        let rejectedOverLimit: Int
        let requestsByOperation: [String: Int]
    }

    /// A process's CPU time per 1,000 webhooks and its memory.
    struct ProcessFigures: Encodable {
        let name: String
        let cpuSecondsPerThousandWebhooks: Double
        let idleResidentMiB: Double
        let peakResidentMiB: Double
    }

    let benchmark = "pipeline"
    let date: String
    let machine: [String: String]
    let customers: Int
    let webhooks: Int
    let mode: String
    let salesforceLatencyMs: String
    let netsuiteLatencyMs: String
    let seconds: Double
    let webhooksPerSecond: Double
    let salesforce: Salesforce
    let netsuite: NetSuite
    let services: [ProcessFigures]
    /// The dev broker, the sandbox and the load generator: on the same cores here, not in production.
    let coLocated: [ProcessFigures]
    /// Busy CPU time of the whole machine between the samples, whichever process used it.
    let machineCPUSecondsPerThousandWebhooks: Double
    /// The share of all cores busy between the samples.
    let machineBusyShare: Double
    /// The share of all cores busy from the first webhook sent to the last: near 1, latency is queueing.
    let machineBusyShareWhileSending: Double?
    /// The webhooks per second the machine's cores could carry at the CPU cost this run measured.
    var machineCPUCeiling: Double { machineCPUSecondsPerThousandWebhooks > 0 ? Double(cores) * 1000 / machineCPUSecondsPerThousandWebhooks : 0 }
    private let cores = ProcessInfo.processInfo.activeProcessorCount
    private let rate: Int?
    /// DESIGN.md §8: p99 webhook → CRM write under 250 ms at 500 webhooks/s.
    static let crmLatencyTarget = (rate: 500, p99Milliseconds: 250.0)
    /// Webhook accepted → the writer's result for a record it wrote, in milliseconds.
    let crmWriteLatencyMs: LatencySummary
    let erpWriteLatencyMs: LatencySummary
    /// The same, split where the record's command was readable on the writer's topic.
    let crmWriteStagesMs: StageLatencies
    let erpWriteStagesMs: StageLatencies
    /// The transport ceiling measured in the same run, and the pipeline's share of it.
    var transportMessagesPerSecond: Double?
    var shareOfTransport: Double? { transportMessagesPerSecond.map { webhooksPerSecond / $0 } }
    private let latencySamples: [String: [Double]]

    private enum CodingKeys: String, CodingKey {
        case benchmark, date, machine, customers, webhooks, mode, salesforceLatencyMs, netsuiteLatencyMs, seconds, webhooksPerSecond
        case salesforce, netsuite, services, coLocated, machineCPUSecondsPerThousandWebhooks, machineBusyShare, machineBusyShareWhileSending
        case machineCPUCeiling
        case crmWriteLatencyMs, erpWriteLatencyMs, crmWriteStagesMs, erpWriteStagesMs, transportMessagesPerSecond, shareOfTransport
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(benchmark, forKey: .benchmark)
        try container.encode(date, forKey: .date)
        try container.encode(machine, forKey: .machine)
        try container.encode(customers, forKey: .customers)
        try container.encode(webhooks, forKey: .webhooks)
        try container.encode(mode, forKey: .mode)
        try container.encode(salesforceLatencyMs, forKey: .salesforceLatencyMs)
        try container.encode(netsuiteLatencyMs, forKey: .netsuiteLatencyMs)
        try container.encode(seconds, forKey: .seconds)
        try container.encode(webhooksPerSecond, forKey: .webhooksPerSecond)
        try container.encode(salesforce, forKey: .salesforce)
        try container.encode(netsuite, forKey: .netsuite)
        try container.encode(services, forKey: .services)
        try container.encode(coLocated, forKey: .coLocated)
        try container.encode(machineCPUSecondsPerThousandWebhooks, forKey: .machineCPUSecondsPerThousandWebhooks)
        try container.encode(machineBusyShare, forKey: .machineBusyShare)
        try container.encodeIfPresent(machineBusyShareWhileSending, forKey: .machineBusyShareWhileSending)
        try container.encode(machineCPUCeiling, forKey: .machineCPUCeiling)
        try container.encode(crmWriteLatencyMs, forKey: .crmWriteLatencyMs)
        try container.encode(erpWriteLatencyMs, forKey: .erpWriteLatencyMs)
        try container.encode(crmWriteStagesMs, forKey: .crmWriteStagesMs)
        try container.encode(erpWriteStagesMs, forKey: .erpWriteStagesMs)
        try container.encodeIfPresent(transportMessagesPerSecond, forKey: .transportMessagesPerSecond)
        try container.encodeIfPresent(shareOfTransport, forKey: .shareOfTransport)
    }

    init(
        customers: Int, webhooks: Int, rate: Int?, elapsed: Duration, netsuiteConcurrencyLimit: Int,
        salesforceLatency: String, netsuiteLatency: String, before: StackSample, sent: BusyMark?, after: StackSample,
        crmLatency: LatencySummary, erpLatency: LatencySummary, crmStages: StageLatencies, erpStages: StageLatencies,
        latencySamples: [String: [Double]]
    ) {
        crmWriteLatencyMs = crmLatency
        erpWriteLatencyMs = erpLatency
        crmWriteStagesMs = crmStages
        erpWriteStagesMs = erpStages
        self.latencySamples = latencySamples
        func delta(_ path: [String], _ system: KeyPath<StackSample, JSONValue>) -> Int {
            Self.integer(at: path, in: after[keyPath: system]) - Self.integer(at: path, in: before[keyPath: system])
        }
        func total(_ path: [String], _ system: KeyPath<StackSample, JSONValue>) -> Int {
            Self.integer(at: path, in: after[keyPath: system])
        }
        date = ISO8601DateFormatter().string(from: Date())
        machine = Self.machine()
        self.customers = customers
        self.webhooks = webhooks
        mode = rate.map { "\($0) webhooks/s" } ?? "saturation"
        salesforceLatencyMs = salesforceLatency
        netsuiteLatencyMs = netsuiteLatency
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        self.seconds = seconds
        webhooksPerSecond = Double(webhooks) / seconds
        let calls = delta(["apiUsage", "used"], \.salesforce)
        let records = delta(["recordsWritten"], \.salesforce)
        salesforce = Salesforce(
            apiCalls: calls, recordsWritten: records, callsPerRecord: records > 0 ? Double(calls) / Double(records) : 0,
            maxRecordsPerCall: total(["maxRecordsPerCall"], \.salesforce),
            callsByOperation: Self.operations(before.salesforce, after.salesforce))
        let peak = total(["maxConcurrency"], \.netsuite)
        netsuite = NetSuite(
            requests: delta(["calls"], \.netsuite), peakInFlight: peak, concurrencyLimit: netsuiteConcurrencyLimit,
            peakShareOfLimit: Double(peak) / Double(netsuiteConcurrencyLimit),
            rejectedOverLimit: delta(["rejectedOverConcurrencyLimit"], \.netsuite),
            requestsByOperation: Self.operations(before.netsuite, after.netsuite))
        func figures(_ name: String) -> ProcessFigures {
            let start = before.processes[name], end = after.processes[name]
            return ProcessFigures(
                name: name,
                cpuSecondsPerThousandWebhooks: ((end?.cpuSeconds ?? 0) - (start?.cpuSeconds ?? 0)) * 1000 / Double(webhooks),
                idleResidentMiB: start?.residentMiB ?? 0, peakResidentMiB: end?.peakResidentMiB ?? 0)
        }
        services = PipelineStack.services.map(figures)
        coLocated = PipelineStack.coLocated.map(figures)
        let run = after.machine.busy(since: before.machine, cores: cores)
        machineCPUSecondsPerThousandWebhooks = run.seconds * 1000 / Double(webhooks)
        machineBusyShare = run.share
        machineBusyShareWhileSending = sent?.busy(since: before.machine, cores: cores).share
        self.rate = rate
    }

    /// The whole number at `path` in the sandbox's statistics; 0 when absent.
    private static func integer(at path: [String], in statistics: JSONValue) -> Int {
        var node = statistics
        for key in path {
            guard let child = node[key] else { return 0 }
            node = child
        }
        guard let number = node.numberValue else { return 0 }
        return NSDecimalNumber(decimal: number).intValue
    }

    /// Calls by operation between two samples, without the operations that did not run.
    private static func operations(_ before: JSONValue, _ after: JSONValue) -> [String: Int] {
        let names = after["callsByOperation"]?.objectValue?.keys ?? [:].keys
        return Dictionary(uniqueKeysWithValues: names.map { name in
            (name, integer(at: ["callsByOperation", name], in: after) - integer(at: ["callsByOperation", name], in: before))
        }).filter { $0.value > 0 }
    }

    private static func machine() -> [String: String] {
        let cpuInfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model = cpuInfo.split(separator: "\n").first { $0.hasPrefix("model name") }
            .map { String($0.split(separator: ":", maxSplits: 1).last ?? "").trimmingCharacters(in: .whitespaces) } ?? "unknown"
        return ["cores": "\(ProcessInfo.processInfo.activeProcessorCount)", "cpu": model]
    }

    var table: String {
        func number(_ value: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", value) }
        func row(_ label: String, _ value: String, _ note: String = "") -> String {
            label.padding(toLength: 44, withPad: " ", startingAt: 0) + value.padding(toLength: max(22, value.count + 2), withPad: " ", startingAt: 0) + note
        }
        func percentiles(_ summary: LatencySummary) -> String {
            "\(number(summary.p50, 0)) / \(number(summary.p95, 0)) / \(number(summary.p99, 0))"
        }
        // The calls-per-record target is for saturation, where batches are full; at a fixed rate the
        // figure is shown for what it is.
        let callsPerRecordNote = rate == nil
            ? "≤ 0.01: \(salesforce.callsPerRecord <= salesforce.target ? "met" : "NOT met"); one call per record would be 1"
            : "the ≤ 0.01 target is at saturation; one call per record would be 1"
        var lines = [
            "",
            row("pipeline, \(customers) customer stories", "value", "target / note"),
            row("webhooks sent (\(mode))", "\(webhooks)"),
            row("webhooks/s, sent → every record written", number(webhooksPerSecond), "in \(number(seconds)) s"),
            row("Salesforce API calls", "\(salesforce.apiCalls)", "latency \(salesforceLatencyMs) ms per call"),
            row("Salesforce records written", "\(salesforce.recordsWritten)", "most in one call: \(salesforce.maxRecordsPerCall)"),
            row("Salesforce API calls per record", number(salesforce.callsPerRecord, 4), callsPerRecordNote),
            row("NetSuite requests", "\(netsuite.requests)", "latency \(netsuiteLatencyMs) ms per request"),
            row("NetSuite peak in flight / limit", "\(netsuite.peakInFlight) / \(netsuite.concurrencyLimit)",
                netsuite.peakInFlight <= netsuite.concurrencyLimit ? "never exceeded" : "EXCEEDED"),
            row("NetSuite requests refused over the limit", "\(netsuite.rejectedOverLimit)"),
            row("webhook → CRM write p50 / p95 / p99 ms", percentiles(crmWriteLatencyMs), crmLatencyNote),
            row("  webhook → on crm.commands", percentiles(crmWriteStagesMs.toCommand), "ingest, transform"),
            row("  crm.commands → write reported", percentiles(crmWriteStagesMs.commandToResult), "crm-writer, Salesforce"),
            row("webhook → ERP write p50 / p95 / p99 ms", percentiles(erpWriteLatencyMs), "\(erpWriteLatencyMs.samples) records"),
            row("  webhook → on erp.commands", percentiles(erpWriteStagesMs.toCommand), "ingest, transform"),
            row("  erp.commands → write reported", percentiles(erpWriteStagesMs.commandToResult), "erp-writer, NetSuite"),
            row("transport ceiling, messages/s (baseline)", transportMessagesPerSecond.map { number($0) } ?? "not measured",
                "raw produce → consume through billing.events"),
            row("pipeline webhooks/s ÷ transport ceiling", shareOfTransport.map { number($0, 4) } ?? "—"),
            "Salesforce calls by operation: \(Self.listed(salesforce.callsByOperation))",
            "NetSuite requests by operation: \(Self.listed(netsuite.requestsByOperation))",
            "",
            row("service", "CPU s/1000", "idle RSS MiB · peak RSS MiB"),
        ]
        for process in services {
            lines.append(row(process.name, number(process.cpuSecondsPerThousandWebhooks, 2), "\(number(process.idleResidentMiB)) · \(number(process.peakResidentMiB))"))
        }
        lines.append(row("co-located (not in production)", "CPU s/1000"))
        for process in coLocated {
            lines.append(row(process.name, number(process.cpuSecondsPerThousandWebhooks, 2)))
        }
        if let machineBusyShareWhileSending {
            lines.append(row("machine, while the webhooks were sent", "\(number(machineBusyShareWhileSending * 100, 0))% busy",
                             "near 100%, latency is mostly waiting for a core"))
        }
        // Only a run that kept the cores busy says what they could carry; otherwise idle polling is in the cost.
        let busy = "cores \(number(machineBusyShare * 100, 0))% busy"
        lines.append(row("machine, every process", number(machineCPUSecondsPerThousandWebhooks, 2),
                         machineBusyShare >= 0.8 ? "\(busy); at this cost they carry at most \(number(machineCPUCeiling, 0)) webhooks/s"
                             : "\(busy): the run waited on something else, such as a provider's limit"))
        lines.append("machine: \(machine["cores"] ?? "?") cores, \(machine["cpu"] ?? "?")")
        return lines.joined(separator: "\n")
    }

    /// The CRM latency row's note: the verdict when the run is at the target's rate.
    private var crmLatencyNote: String {
        let records = "\(crmWriteLatencyMs.samples) records"
        let (rate, limit) = (Self.crmLatencyTarget.rate, Int(Self.crmLatencyTarget.p99Milliseconds))
        guard self.rate == rate else { return "\(records); target p99 < \(limit) at \(rate)/s" }
        return "p99 < \(limit): \(crmWriteLatencyMs.p99 < Double(limit) ? "met" : "NOT met"); \(records)"
    }

    private static func listed(_ counts: [String: Int]) -> String {
        counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
    }

    /// The cumulative latency distribution of both writers as a PNG, drawn by gnuplot.
    func plot(to path: String) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bench-plot-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var series: [String] = []
        for (reporter, values) in latencySamples.sorted(by: { $0.key < $1.key }) where !values.isEmpty {
            let sorted = values.sorted()
            let data = sorted.enumerated().map { "\($0.element) \(Double($0.offset + 1) / Double(sorted.count))" }.joined(separator: "\n")
            let file = directory.appendingPathComponent("\(reporter).dat")
            try data.write(to: file, atomically: true, encoding: .utf8)
            series.append("'\(file.path)' using 1:2 with lines linewidth 2 title '\(reporter)'")
        }
        guard !series.isEmpty else { throw BenchError("no latency samples to plot") }
        let script = """
            set terminal pngcairo size 1000,600
            set output '\(path)'
            set title 'Webhook accepted → record written (\(mode), \(webhooks) webhooks)'
            set xlabel 'milliseconds'
            set ylabel 'share of records'
            set logscale x
            set grid
            set key bottom right
            plot \(series.joined(separator: ", "))
            """
        let gnuplot = Process()
        gnuplot.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        gnuplot.arguments = ["gnuplot"]
        let input = Pipe()
        gnuplot.standardInput = input
        try gnuplot.run()
        input.fileHandleForWriting.write(Data(script.utf8))
        try input.fileHandleForWriting.close()
        gnuplot.waitUntilExit()
        guard gnuplot.terminationStatus == 0 else { throw BenchError("gnuplot failed (status \(gnuplot.terminationStatus))") }
    }

    func write(to file: URL) throws {
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        try encoder.encode(self).write(to: file)
    }
}
