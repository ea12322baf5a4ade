// crossbill: the operators' command-line tool.
import ArgumentParser
import Contract
import Kafka
import Logging

@main
struct Crossbill: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Operate a Crossbill deployment.",
        subcommands: [Topics.self]
    )
}

struct Topics: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage Crossbill's Kafka topics.",
        subcommands: [Create.self, List.self]
    )

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the topics Crossbill uses.")

        func run() {
            for topic in Topic.all { print(topic) }
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create every Crossbill topic; topics that exist are left as they are."
        )

        @Option(help: "Brokers to bootstrap from, host:port[,host:port…].")
        var bootstrapServers: String

        @Option(help: "Partitions per topic: the most consumer replicas that can share the work.")
        var partitions = TopicLayout.production.partitions

        @Option(help: "Copies of each partition.")
        var replicationFactor = TopicLayout.production.replicationFactor

        @Option(help: "Replicas that must acknowledge each write (acks=all).")
        var minInsyncReplicas = TopicLayout.production.minInSyncReplicas

        @Option(help: "Seconds to wait for the brokers.")
        var timeout = 30

        @Option(
            name: .customLong("kafka-property"),
            help: "A librdkafka property for secured clusters, e.g. security.protocol=SASL_SSL (repeatable).")
        var kafkaProperties: [String] = []

        func validate() throws {
            guard partitions >= 1 else { throw ValidationError("--partitions must be at least 1") }
            guard replicationFactor >= 1 else { throw ValidationError("--replication-factor must be at least 1") }
            guard (1...replicationFactor).contains(minInsyncReplicas) else {
                throw ValidationError("--min-insync-replicas must be between 1 and --replication-factor")
            }
            for property in kafkaProperties where !property.contains("=") {
                throw ValidationError("--kafka-property takes name=value, not \(property)")
            }
        }

        private var additionalProperties: [String: String] {
            Dictionary(kafkaProperties.map { property in
                let parts = property.split(separator: "=", maxSplits: 1)
                return (String(parts[0]), parts.count > 1 ? String(parts[1]) : "")
            }) { _, last in last }
        }

        func run() async throws {
            var logger = Logger(label: "crossbill")
            logger.logLevel = .warning
            let layout = TopicLayout(
                partitions: partitions, replicationFactor: replicationFactor, minInSyncReplicas: minInsyncReplicas)
            let admin = try KafkaAdmin(
                configuration: KafkaClientConfiguration(
                    bootstrapServers: bootstrapServers, clientID: "crossbill-cli", additionalProperties: additionalProperties),
                logger: logger
            )
            let specifications = Topic.all.map {
                TopicSpecification(
                    name: $0, partitions: layout.partitions, replicationFactor: layout.replicationFactor,
                    configs: layout.configs(for: $0))
            }
            let outcomes = try await admin.createTopics(specifications, timeout: .seconds(timeout))
            for topic in Topic.all {
                let outcome =
                    switch outcomes[topic] {
                    case .created: "created"
                    case .alreadyExisted: "exists"
                    case nil: "no answer from the brokers"
                    }
                print("\(topic)\t\(outcome)")
            }
            if outcomes.count < Topic.all.count { throw ExitCode.failure }
        }
    }
}
