// bench-pipeline: the whole pipeline as separate processes (dev broker, sandbox, ingest, transform,
// crm-writer, erp-writer, notifier), fed signed Lago webhooks until the sandbox holds every expected record.
// Reports throughput, the Salesforce API calls spent per record, NetSuite's in-flight requests
// against its limit, and each service's CPU time and memory.
import ArgumentParser
import Contract
import CurlHTTP
import Foundation
import HTTPTypes
import Logging
import Synchronization

@main
struct BenchPipeline: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-pipeline",
        abstract: "Benchmark the whole Crossbill pipeline against the sandbox.")

    @Option(help: "Customer stories to send (each: customer, subscription, invoice, payment, credit note).")
    var customers = 500

    @Option(help: "Webhooks in flight at once.")
    var concurrency = 32

    @Option(help: "Webhooks per second to send; without it, as fast as ingest takes them (saturation).")
    var rate: Int?

    @Option(help: "Latency of each Salesforce API call, min-max milliseconds (a Collections call of many records takes hundreds of milliseconds).")
    var salesforceLatency = "150-450"

    @Option(help: "Latency of each NetSuite API call, min-max milliseconds.")
    var netsuiteLatency = "20-60"

    @Option(help: "NetSuite's concurrency limit, set on both the sandbox account and erp-writer.")
    var netsuiteConcurrencyLimit = 5

    @Option(help: "Directory of the built executables.")
    var binPath = ".build/release"

    @Option(help: "Directory of the Lago webhook fixtures the stories are made from.")
    var fixtures = "Tests/TestSupport/Fixtures/lago"

    @Option(help: "The NetSuite item mapping for the sandbox account.")
    var netsuiteMapping = "Tools/scripts/netsuite-sandbox-items.json"

    @Option(help: "Where the JSON report is written.")
    var output = "bench-results/pipeline.json"

    @Option(help: "Messages for the transport baseline (raw produce → consume through billing.events); 0 skips it.")
    var transportMessages = 50_000

    @Option(help: "Renders the latency distribution as a PNG here (needs gnuplot).")
    var plot: String?

    @Option(help: "Seconds to wait for every record before giving up.")
    var timeout = 600

    func validate() throws {
        guard customers >= 1 else { throw ValidationError("--customers must be at least 1") }
        guard concurrency >= 1 else { throw ValidationError("--concurrency must be at least 1") }
        guard (rate ?? 1) >= 1 else { throw ValidationError("--rate must be at least 1") }
        _ = try LatencyRange(salesforceLatency)
        _ = try LatencyRange(netsuiteLatency)
    }

    func run() async throws {
        let stories = try WebhookStories(
            fixtures: URL(fileURLWithPath: fixtures), hmacKey: PipelineStack.hmacKey, run: UInt32.random(in: 1..<UInt32.max))
        let binaries = URL(fileURLWithPath: binPath)
        var transport: Double?
        if transportMessages > 0 {
            FileHandle.standardError.write(Data("transport baseline: \(transportMessages) messages through billing.events…\n".utf8))
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bench-transport-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            do {
                transport = try await TransportBaseline.measure(
                    binaries: binaries, directory: directory, messages: transportMessages, value: stories.story(0)[0].body)
            } catch {
                FileHandle.standardError.write(Data("logs kept in \(directory.path)\n".utf8))
                throw error
            }
            try? FileManager.default.removeItem(at: directory)
        }
        let stack = try await PipelineStack.start(
            binaries: binaries,
            salesforceLatency: try LatencyRange(salesforceLatency), netsuiteLatency: try LatencyRange(netsuiteLatency),
            netsuiteConcurrencyLimit: netsuiteConcurrencyLimit, netsuiteMapping: netsuiteMapping)
        var report: PipelineReport
        do {
            report = try await measure(on: stack, stories: stories)
        } catch {
            await stack.stop()
            FileHandle.standardError.write(Data("logs kept in \(stack.directory.path)\n".utf8))
            throw error
        }
        await stack.stop()
        // The services' databases and logs are only worth keeping when the run failed.
        try? FileManager.default.removeItem(at: stack.directory)
        report.transportMessagesPerSecond = transport
        try report.write(to: URL(fileURLWithPath: output))
        if let plot { try report.plot(to: plot) }
        print(report.table)
        FileHandle.standardError.write(Data("wrote \(output)\(plot.map { " and \($0)" } ?? "")\n".utf8))
    }

    private func measure(on stack: PipelineStack, stories: WebhookStories) async throws -> PipelineReport {

        // Warm-up: one story end to end, so connections, tokens, consumer groups and the catalog
        // records every story shares (plan, coupon) are in place before the clock starts.
        for webhook in stories.story(0) { try await stack.post(webhook) }
        try await stack.waitForStories(1, timeout: .seconds(60), progress: nil)
        // Follow the results from here on; it has joined its group once it read the warm-up's.
        let latencies = ResultLatencies()
        let results = try stack.resultConsumer()
        let following = Task { await latencies.follow(results) }
        defer { following.cancel() }
        let joined = ContinuousClock.now + .seconds(30)
        while latencies.resultsRead == 0, ContinuousClock.now < joined { try await Task.sleep(for: .milliseconds(100)) }
        // Every webhook is made and signed before the clock starts: the sender's work is not the pipeline's.
        let webhooks = (1...customers).map(stories.story)
        let before = try await stack.sample()

        let total = customers * WebhookStories.events.count
        let (customers, concurrency, timeout) = (self.customers, self.concurrency, self.timeout)
        let posted = Counter(), next = Counter(startingAt: 1)
        let start = ContinuousClock.now
        let pacing = rate.map { Duration.seconds(1) / $0 }
        let (sent, postingDone) = try await withThrowingTaskGroup(of: BusyMark?.self) { group in
            group.addTask {
                try await withThrowingTaskGroup(of: Void.self) { senders in
                    for _ in 0..<min(concurrency, customers) {
                        senders.addTask {
                            while true {
                                let index = next.takeNext()
                                guard index <= customers else { return }
                                for webhook in webhooks[index - 1] {
                                    let sequence = posted.takeNext()
                                    if let pacing { try await Task.sleep(until: start + pacing * sequence) }
                                    try await stack.post(webhook)
                                    latencies.accepted(webhook.uniqueKey)
                                }
                            }
                        }
                    }
                    try await senders.waitForAll()
                }
                return BusyMark.now()
            }
            group.addTask {
                try await stack.waitForStories(customers + 1, timeout: .seconds(timeout)) { progress in
                    "posted \(posted.current)/\(total) webhooks · \(progress)"
                }
                return nil
            }
            var sent: BusyMark?
            for try await finished in group { sent = sent ?? finished }
            return (sent, ContinuousClock.now)
        }
        let elapsed = postingDone - start
        // The last writes' results are still on their way: read until they stop coming.
        var lastCount = -1
        let drained = ContinuousClock.now + .seconds(15)
        while latencies.resultsRead != lastCount, ContinuousClock.now < drained {
            lastCount = latencies.resultsRead
            try await Task.sleep(for: .seconds(1))
        }
        let after = try await stack.sample()
        return PipelineReport(
            customers: customers, webhooks: total, rate: rate, elapsed: elapsed,
            netsuiteConcurrencyLimit: netsuiteConcurrencyLimit,
            salesforceLatency: salesforceLatency, netsuiteLatency: netsuiteLatency,
            before: before, sent: sent, after: after,
            crmLatency: LatencySummary(latencies.samples(reporter: "crm-writer")),
            erpLatency: LatencySummary(latencies.samples(reporter: "erp-writer")),
            crmStages: StageLatencies(latencies.stages(reporter: "crm-writer")),
            erpStages: StageLatencies(latencies.stages(reporter: "erp-writer")),
            latencySamples: ["crm-writer": latencies.samples(reporter: "crm-writer"), "erp-writer": latencies.samples(reporter: "erp-writer")])
    }
}

/// A counter shared by the sending tasks.
final class Counter: Sendable {
    private let value: Atomic<Int>

    init(startingAt first: Int = 0) { value = Atomic(first) }

    /// Returns the current value and moves on to the next.
    func takeNext() -> Int { value.add(1, ordering: .relaxed).oldValue }

    var current: Int { value.load(ordering: .relaxed) }
}

/// `min-max` milliseconds.
struct LatencyRange {
    let min: Int
    let max: Int

    init(_ text: String) throws {
        let parts = text.split(separator: "-").compactMap { Int($0) }
        guard parts.count == 2, parts[0] >= 0, parts[0] <= parts[1] else {
            throw ValidationError("latency must be min-max milliseconds, e.g. 50-150, not \(text)")
        }
        (min, max) = (parts[0], parts[1])
    }
}
