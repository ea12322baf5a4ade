// dev-broker: hosts librdkafka's mock Kafka cluster for development and tests.
//
// It speaks the real Kafka protocol and supports consumer groups, but keeps everything in memory and
// only a few MB per partition. Production runs on Apache Kafka; never point a real deployment here.
import Contract
import Foundation
import Hummingbird
import Kafka
import Logging
import NIOCore
import ServiceRuntime

struct Options {
    var brokers = 3
    var partitions = 12
    var bootstrapFile = "var/dev-broker/bootstrap"
    var controlHost = "127.0.0.1"
    var controlPort = 9644

    static let usage = """
        usage: dev-broker [--brokers N] [--partitions N] [--bootstrap-file PATH] [--control-port PORT]
          --brokers N            brokers in the mock cluster (default 3)
          --partitions N         partitions of each Crossbill topic (default 12)
          --bootstrap-file PATH  where to write the bootstrap servers (default var/dev-broker/bootstrap)
          --control-port PORT    HTTP control API for fault injection; 0 picks a free port (default 9644)
        """

    init(arguments: [String]) throws {
        var remaining = arguments.dropFirst()[...]
        func value(_ flag: String) throws -> String {
            guard let value = remaining.popFirst() else { throw UsageError("\(flag) needs a value") }
            return value
        }
        func number(_ flag: String, range: ClosedRange<Int>) throws -> Int {
            let text = try value(flag)
            guard let number = Int(text), range.contains(number) else {
                throw UsageError("\(flag) takes a whole number from \(range.lowerBound) to \(range.upperBound), not \(text)")
            }
            return number
        }
        while let flag = remaining.popFirst() {
            switch flag {
            case "--brokers": brokers = try number(flag, range: 1...9)
            case "--partitions": partitions = try number(flag, range: 1...256)
            case "--bootstrap-file": bootstrapFile = try value(flag)
            case "--control-port": controlPort = try number(flag, range: 0...65535)
            case "--help", "-h":
                print(Self.usage)
                exit(0)
            default: throw UsageError("unknown option \(flag)")
            }
        }
    }
}

struct UsageError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

let options: Options
do {
    options = try Options(arguments: CommandLine.arguments)
} catch {
    FileHandle.standardError.write(Data("dev-broker: \(error)\n\(Options.usage)\n".utf8))
    exit(2)
}

LoggingSystem.bootstrap { label in
    var handler = StreamLogHandler.standardError(label: label)
    handler.logLevel = .notice
    return handler
}
let logger = Logger(label: "dev-broker")

let cluster: KafkaMockCluster
do {
    cluster = try KafkaMockCluster(brokers: options.brokers, logger: logger)
    for topic in Topic.all {
        try cluster.createTopic(
            TopicSpecification(name: topic, partitions: options.partitions, replicationFactor: options.brokers)
        )
    }
    let directory = URL(fileURLWithPath: options.bootstrapFile).deletingLastPathComponent()
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    try Data((cluster.bootstrapServers + "\n").utf8).write(to: URL(fileURLWithPath: options.bootstrapFile))
} catch {
    FileHandle.standardError.write(Data("dev-broker: \(error)\n".utf8))
    exit(1)
}

// Fault injection for tests and demos: take brokers down and bring them back.
let router = Router()
router.addMiddleware { ProblemMiddleware() }
router.get("/healthz") { _, _ in HTTPResponse.Status.ok }
router.post("/brokers/:id/:state") { _, context in
    let id = try context.parameters.require("id", as: Int32.self)
    let state = try context.parameters.require("state")
    guard (1...Int32(cluster.brokerCount)).contains(id) else {
        throw Problem(.notFound, kind: "unknown-broker", detail: "Brokers are numbered 1 to \(cluster.brokerCount).")
    }
    switch state {
    case "up": cluster.setBrokerUp(id)
    case "down": cluster.setBrokerDown(id)
    default: throw Problem(.badRequest, kind: "unknown-state", detail: "The state is up or down, not \(state).")
    }
    return HTTPResponse.Status.noContent
}
router.post("/cluster/:state") { _, context in
    let state = try context.parameters.require("state")
    guard state == "up" || state == "down" else {
        throw Problem(.badRequest, kind: "unknown-state", detail: "The state is up or down, not \(state).")
    }
    cluster.setAllBrokers(up: state == "up")
    return HTTPResponse.Status.noContent
}

let app = Application(
    router: router,
    configuration: .init(address: .hostname(options.controlHost, port: options.controlPort)),
    onServerRunning: { channel in
        let port = channel.localAddress?.port ?? options.controlPort
        // Stable lines that scripts and tests read; written unbuffered, so a pipe sees them at once.
        let lines = """
            bootstrap \(cluster.bootstrapServers)
            control http://\(options.controlHost):\(port)
            dev-broker ready: \(options.brokers) brokers, \(Topic.all.count) topics of \(options.partitions) partitions \
            (development only: in memory, bounded retention)

            """
        FileHandle.standardOutput.write(Data(lines.utf8))
    },
    logger: logger
)
do {
    try await app.runService()
} catch {
    FileHandle.standardError.write(Data("dev-broker: \(error)\n".utf8))
    exit(1)
}
