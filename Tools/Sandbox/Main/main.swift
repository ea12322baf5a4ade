// sandbox: Salesforce- and NetSuite-compatible API simulators for development, tests and demos.
//
// Each system listens on its own port (loopback by default; port 0 picks a free one) and also serves
// an inspection and control API under /_sandbox (records, stats, faults, sessions, reset).
import ArgumentParser
import Foundation
import Hummingbird
import Logging
import NetSuiteSandbox
import SalesforceSandbox
import SandboxCore
import ServiceLifecycle
import UnixSignals

/// The configuration file's shape: `{"host", "seed", "salesforce": {...}, "netsuite": {...}}`.
struct SandboxFile: Decodable {
    var host: String?
    var seed: UInt64?
    var salesforce: SalesforceSettings?
    var netsuite: NetSuiteSettings?

    private enum CodingKeys: String, CodingKey, CaseIterable { case host, seed, salesforce, netsuite }

    init() {}

    init(from decoder: any Decoder) throws {
        try StrictKeys.check(decoder, allowed: CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        host = try container.decodeIfPresent(String.self, forKey: .host)
        seed = try container.decodeIfPresent(UInt64.self, forKey: .seed)
        salesforce = try container.decodeIfPresent(SalesforceSettings.self, forKey: .salesforce)
        netsuite = try container.decodeIfPresent(NetSuiteSettings.self, forKey: .netsuite)
    }
}

@main
struct Sandbox: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sandbox",
        abstract: "Salesforce- and NetSuite-compatible API simulators with fault injection.",
        discussion: """
            Credentials, limits, faults and schemas come from the configuration file (see the README, \
            "The sandbox"); the options below override it. The ports in use are printed and written to \
            --ports-file as JSON.
            """
    )

    @Option(help: "JSON configuration file.")
    var config: String?

    @Option(help: "Address to listen on (default 127.0.0.1).")
    var host: String?

    @Option(help: "Port of the Salesforce API; 0 picks a free port.")
    var salesforcePort = 8091

    @Option(help: "Port of the NetSuite API; 0 picks a free port.")
    var netsuitePort = 8092

    @Option(help: "Seed of the fault injection's random choices (default 1).")
    var seed: UInt64?

    @Option(help: "Where to write the systems' base URLs as JSON.")
    var portsFile = "var/sandbox/ports.json"

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel = "notice"

    func run() async throws {
        let file: SandboxFile
        do {
            file = try config.map { path in
                try JSONDecoder().decode(SandboxFile.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
            } ?? SandboxFile()
        } catch {
            throw ValidationError("\(config ?? ""): \(SandboxServer.describe(error))")
        }
        guard let level = Logger.Level(rawValue: logLevel) else { throw ValidationError("unknown log level \(logLevel)") }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "sandbox")
        let host = host ?? file.host ?? "127.0.0.1"
        let seed = seed ?? file.seed ?? 1
        let salesforceSettings = file.salesforce ?? SalesforceSettings()
        let netsuiteSettings = file.netsuite ?? NetSuiteSettings()

        let salesforceEnvironment = SandboxEnvironment(
            faults: FaultInjector(settings: salesforceSettings.faults, seed: seed), concurrencyLimit: nil)
        let netsuiteEnvironment = SandboxEnvironment(
            faults: FaultInjector(settings: netsuiteSettings.faults, seed: seed), concurrencyLimit: netsuiteSettings.concurrencyLimit)
        let salesforce = try await SalesforceSandbox.make(settings: salesforceSettings, environment: salesforceEnvironment)
        let netsuite = try await NetSuiteSandbox.make(settings: netsuiteSettings, environment: netsuiteEnvironment)

        let announcer = ReadyAnnouncer(host: host, expected: 2, portsFile: portsFile)
        let services: [any Service] = [
            SandboxServer.application(
                system: salesforce, environment: salesforceEnvironment, host: host, port: salesforcePort, logger: logger,
                onRunning: { await announcer.running("salesforce", port: $0) }),
            SandboxServer.application(
                system: netsuite, environment: netsuiteEnvironment, host: host, port: netsuitePort, logger: logger,
                onRunning: { await announcer.running("netsuite", port: $0) }),
        ]
        let group = ServiceGroup(
            configuration: .init(services: services.map { .init(service: $0) }, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

/// Prints each system's URL as it starts listening, then `sandbox ready`, and writes the ports file.
actor ReadyAnnouncer {
    private let host: String
    private let expected: Int
    private let portsFile: String
    private var urls: [String: String] = [:]

    init(host: String, expected: Int, portsFile: String) {
        self.host = host
        self.expected = expected
        self.portsFile = portsFile
    }

    func running(_ system: String, port: Int) {
        let url = "http://\(host):\(port)"
        urls[system] = url
        announce("\(system) \(url)")
        guard urls.count == expected else { return }
        do {
            let fileURL = URL(fileURLWithPath: portsFile)
            try FileManager.default.createDirectory(at: fileURL.deletingLastPathComponent(), withIntermediateDirectories: true)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            try encoder.encode(urls).write(to: fileURL)
        } catch {
            FileHandle.standardError.write(Data("sandbox: cannot write \(portsFile): \(error)\n".utf8))
        }
        announce("sandbox ready (inspection API under /_sandbox on each port)")
    }

    /// Unbuffered, so scripts reading a redirected stdout see each line at once.
    private func announce(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }
}
