import Contract
import CurlHTTP
import Foundation
import HTTPTypes
import Kafka
import Logging

/// The pipeline's processes on loopback, with the sandbox standing in for Salesforce and NetSuite.
struct PipelineStack: Sendable {
    static let hmacKey = "bench-hmac-key"
    /// The organization of the fixtures' webhooks.
    static let organization = "b7ab2926-1de8-4428-9bcd-779314ac129b"
    static let services = ["ingest", "transform", "crm-writer", "erp-writer", "notifier"]
    /// What shares the machine with the services in the benchmark but not in production.
    static let coLocated = ["dev-broker", "sandbox", loadGenerator]
    /// This process: it sends the webhooks and follows the commands and results.
    static let loadGenerator = "bench-pipeline"
    /// Stand-ins for what the development broker does differently from a real one: it holds every
    /// fetch for the whole wait, and an idempotent producer's batch for about 45 ms while a second
    /// request of the connection is in flight (see `KafkaClientConfiguration`).
    static let fetchWait = Duration.milliseconds(10)
    static let maxInFlight = 1

    let directory: URL
    let processes: [StackProcess]
    let bootstrapServers: String
    let ingestURL: String
    let salesforceURL: String
    let netsuiteURL: String
    let http: CurlHTTPClient

    static func start(
        binaries: URL, salesforceLatency: LatencyRange, netsuiteLatency: LatencyRange,
        netsuiteConcurrencyLimit: Int, netsuiteMapping: String
    ) async throws -> PipelineStack {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bench-pipeline-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
        func executable(_ name: String) -> URL { binaries.appendingPathComponent(name) }
        var processes: [StackProcess] = []
        do {
            processes.append(try StackProcess(
                "dev-broker", executable: executable("dev-broker"),
                arguments: ["--control-port", "0", "--partitions", "6", "--bootstrap-file", path("bootstrap")], logDirectory: directory))
            let bootstrap = try await waitForFile(directory.appendingPathComponent("bootstrap"))
                .trimmingCharacters(in: .whitespacesAndNewlines)

            let sandboxConfiguration: JSONValue = [
                "seed": 7,
                "salesforce": [
                    "dailyApiRequests": 10_000_000,
                    "faults": ["latencyMs": ["min": .number(Decimal(salesforceLatency.min)), "max": .number(Decimal(salesforceLatency.max))]],
                ],
                "netsuite": [
                    "concurrencyLimit": .number(Decimal(netsuiteConcurrencyLimit)),
                    "faults": ["latencyMs": ["min": .number(Decimal(netsuiteLatency.min)), "max": .number(Decimal(netsuiteLatency.max))]],
                ],
            ]
            try sandboxConfiguration.encoded().write(to: URL(fileURLWithPath: path("sandbox.json")))
            processes.append(try StackProcess(
                "sandbox", executable: executable("sandbox"),
                arguments: ["--config", path("sandbox.json"), "--salesforce-port", "0", "--netsuite-port", "0",
                            "--ports-file", path("ports.json"), "--log-level", "warning"],
                logDirectory: directory))
            let ports = JSONValue.parse(Data(try await waitForFile(directory.appendingPathComponent("ports.json")).utf8))
            guard let salesforce = ports?["salesforce"]?.stringValue, let netsuite = ports?["netsuite"]?.stringValue else {
                throw BenchError("the sandbox wrote no ports")
            }

            let httpPorts = try Dictionary(uniqueKeysWithValues: services.map { ($0, try LocalPorts.free()) })
            let common = [
                "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "KAFKA_FETCH_WAIT_MAX_MS": "\(Int(Self.fetchWait.inMilliseconds))",
                "KAFKA_MAX_IN_FLIGHT": "\(Self.maxInFlight)",
                "LOG_LEVEL": "warning", "LOG_FORMAT": "json",
            ]
            let settings: [String: [String: String]] = [
                "ingest": [
                    "INGEST_ORGANIZATIONS": "bench", "INGEST_ORGANIZATION_BENCH_ID": organization,
                    "INGEST_ORGANIZATION_BENCH_HMAC_KEY": hmacKey, "INGEST_DATABASE_PATH": path("ingest.sqlite"),
                ],
                "transform": [
                    "TRANSFORM_CONNECTIONS": "sf,ns", "TRANSFORM_CONNECTION_SF_SYSTEM": "salesforce",
                    "TRANSFORM_CONNECTION_NS_SYSTEM": "netsuite", "TRANSFORM_CONNECTION_NS_MAPPING_FILE": netsuiteMapping,
                    "TRANSFORM_DATABASE_PATH": path("transform.sqlite"),
                ],
                "crm-writer": [
                    "CRM_CONNECTIONS": "sf", "CRM_CONNECTION_SF_LOGIN_URL": salesforce,
                    "CRM_CONNECTION_SF_CLIENT_ID": "crossbill-sandbox-client",
                    "CRM_CONNECTION_SF_CLIENT_SECRET": "crossbill-sandbox-secret",
                    "CRM_DATABASE_PATH": path("crm.sqlite"),
                ],
                "erp-writer": [
                    "ERP_CONNECTIONS": "ns", "ERP_CONNECTION_NS_ACCOUNT_ID": "TSTDRV1234567",
                    "ERP_CONNECTION_NS_BASE_URL": netsuite,
                    "ERP_CONNECTION_NS_CONSUMER_KEY": "crossbill-sandbox-consumer-key",
                    "ERP_CONNECTION_NS_CONSUMER_SECRET": "crossbill-sandbox-consumer-secret",
                    "ERP_CONNECTION_NS_TOKEN_ID": "crossbill-sandbox-token-id",
                    "ERP_CONNECTION_NS_TOKEN_SECRET": "crossbill-sandbox-token-secret",
                    "ERP_CONNECTION_NS_CONCURRENCY_LIMIT": "\(netsuiteConcurrencyLimit)",
                    "ERP_DATABASE_PATH": path("erp.sqlite"),
                ],
                // The history and alerts of every result; no webhook endpoint, so nothing leaves the machine.
                "notifier": [
                    "NOTIFIER_DASHBOARD_TOKEN": "bench-dashboard-token-0123456789",
                    "NOTIFIER_DATABASE_PATH": path("notifier.sqlite"),
                ],
            ]
            for service in services {
                let environment = common.merging(settings[service] ?? [:]) { _, new in new }
                    .merging(["HTTP_PORT": "\(httpPorts[service] ?? 0)"]) { _, new in new }
                processes.append(try StackProcess(service, executable: executable(service), environment: environment, logDirectory: directory))
            }
            let stack = PipelineStack(
                directory: directory, processes: processes, bootstrapServers: bootstrap, ingestURL: "http://127.0.0.1:\(httpPorts["ingest"] ?? 0)",
                salesforceURL: salesforce, netsuiteURL: netsuite,
                http: CurlHTTPClient(configuration: .init(requestTimeout: .seconds(30), maximumConnectionsPerHost: 256), logger: Logger(label: "bench")))
            for service in services {
                try await stack.waitUntilReady(service, url: "http://127.0.0.1:\(httpPorts[service] ?? 0)/readyz")
            }
            return stack
        } catch {
            for process in processes.reversed() { await process.stop() }
            throw error
        }
    }

    private func waitUntilReady(_ service: String, url: String, timeout: Duration = .seconds(60)) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let response = try? await http.execute(HTTPClientRequest(url: url)), response.status == .ok { return }
            guard processes.first(where: { $0.name == service })?.isRunning ?? false else {
                throw BenchError("\(service) exited at start; see \(directory.path)/\(service).log")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw BenchError("\(service) was not ready within \(timeout); see \(directory.path)/\(service).log")
    }

    /// A consumer of `sync.results` in a group of its own, from the beginning.
    func resultConsumer() throws -> KafkaConsumer {
        try KafkaConsumer(
            configuration: KafkaConsumerConfiguration(
                client: KafkaClientConfiguration(
                    bootstrapServers: bootstrapServers, clientID: "bench-results", statisticsInterval: .zero, fetchWait: Self.fetchWait),
                groupID: "bench-results-\(UUID().uuidString)", topics: ResultLatencies.topics, batchSize: 5000),
            logger: Logger(label: "bench"))
    }

    func post(_ webhook: WebhookStories.Webhook) async throws {
        let response = try await http.execute(HTTPClientRequest(
            method: .post, url: "\(ingestURL)/webhooks/lago/bench",
            headers: [
                .contentType: "application/json",
                HTTPField.Name("X-Lago-Signature")!: webhook.signature,
                HTTPField.Name("X-Lago-Signature-Algorithm")!: "hmac",
                HTTPField.Name("X-Lago-Unique-Key")!: webhook.uniqueKey,
            ],
            body: webhook.body))
        guard response.status == .ok else {
            throw BenchError("ingest answered \(response.status.code) to \(webhook.uniqueKey): \(response.bodyText)")
        }
    }

    /// Record counts by type in one system.
    func recordCounts(_ base: String) async throws -> [String: Int] {
        let response = try await http.execute(HTTPClientRequest(url: "\(base)/_sandbox/records"))
        return (JSONValue.parse(Data(response.body))?.objectValue ?? [:]).compactMapValues { $0.numberValue.map { Int(truncating: $0 as NSNumber) } }
    }

    /// Waits until both systems hold the records of `stories` stories, printing `progress` on one line.
    func waitForStories(_ stories: Int, timeout: Duration, progress: (@Sendable (String) -> String)?) async throws {
        let deadline = ContinuousClock.now + timeout
        func missing(_ counts: [String: Int], _ perStory: [String: Int]) -> Int {
            perStory.reduce(0) { sum, entry in sum + max(0, entry.value * stories - (counts[entry.key] ?? 0)) }
        }
        let salesforceExpected = WebhookStories.salesforceRecordsPerStory.values.reduce(0, +) * stories
        let netsuiteExpected = WebhookStories.netsuiteRecordsPerStory.values.reduce(0, +) * stories
        // On a terminal the progress line is redrawn in place; in a log, a line every 5 seconds.
        let terminal = isatty(STDERR_FILENO) != 0
        var polls = 0
        while true {
            let salesforce = missing(try await recordCounts(salesforceURL), WebhookStories.salesforceRecordsPerStory)
            let netsuite = missing(try await recordCounts(netsuiteURL), WebhookStories.netsuiteRecordsPerStory)
            let done = salesforce == 0 && netsuite == 0
            if let progress, terminal || done || polls % 20 == 0 {
                let line = progress("Salesforce \(salesforceExpected - salesforce)/\(salesforceExpected) · NetSuite \(netsuiteExpected - netsuite)/\(netsuiteExpected) records")
                FileHandle.standardError.write(Data((terminal ? "\r\(line)   " : "\(line)\n").utf8))
                if terminal, done { FileHandle.standardError.write(Data("\n".utf8)) }
            }
            polls += 1
            if done { return }
            guard ContinuousClock.now < deadline else {
                throw BenchError("records still missing after \(timeout): \(salesforce) in Salesforce, \(netsuite) in NetSuite; logs in \(directory.path)")
            }
            for process in processes where !process.isRunning {
                throw BenchError("\(process.name) exited; see \(process.logFile.path)")
            }
            try await Task.sleep(for: .milliseconds(250))
        }
    }

    /// The sandbox's statistics, each process's CPU time and memory, and the machine's busy time, now.
    func sample() async throws -> StackSample {
        func statistics(_ base: String) async throws -> JSONValue {
            JSONValue.parse(Data(try await http.execute(HTTPClientRequest(url: "\(base)/_sandbox/stats")).body)) ?? .null
        }
        func measured(_ pid: Int32) -> StackSample.Process {
            let memory = ProcessStatistics.memory(of: pid)
            return .init(cpuSeconds: ProcessStatistics.cpuSeconds(of: pid) ?? 0, residentMiB: memory?.resident ?? 0, peakResidentMiB: memory?.peak ?? 0)
        }
        var measuredProcesses = Dictionary(uniqueKeysWithValues: processes.map { ($0.name, measured($0.pid)) })
        measuredProcesses[Self.loadGenerator] = measured(getpid())
        return StackSample(
            salesforce: try await statistics(salesforceURL), netsuite: try await statistics(netsuiteURL),
            processes: measuredProcesses, machine: .now())
    }

    func stop() async {
        for process in processes.reversed() { await process.stop() }
        http.shutdown()
    }
}

struct StackSample: Sendable {
    struct Process: Sendable {
        let cpuSeconds: Double
        let residentMiB: Double
        let peakResidentMiB: Double
    }

    let salesforce: JSONValue
    let netsuite: JSONValue
    /// The services, the co-located processes and the load generator, by name.
    let processes: [String: Process]
    let machine: BusyMark
}

/// The machine's busy CPU seconds at a moment: two marks give how busy its cores were between them.
struct BusyMark: Sendable {
    let busySeconds: Double
    let taken: ContinuousClock.Instant

    static func now() -> BusyMark {
        BusyMark(busySeconds: ProcessStatistics.machineBusySeconds() ?? 0, taken: .now)
    }

    /// CPU seconds busy since `earlier`, and the share of all `cores` that is.
    func busy(since earlier: BusyMark, cores: Int) -> (seconds: Double, share: Double) {
        let seconds = busySeconds - earlier.busySeconds
        let elapsed = taken - earlier.taken
        let available = (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18) * Double(cores)
        return (seconds, available > 0 ? seconds / available : 0)
    }
}
