import Foundation
import Kafka
import Logging

/// A logger that drops everything, for components under test.
public let quietLogger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

/// An in-process mock cluster with the given topics.
public func makeMockCluster(topics: [String], partitions: Int = 3, brokers: Int = 3) throws -> KafkaMockCluster {
    let cluster = try KafkaMockCluster(brokers: brokers, logger: quietLogger)
    for topic in topics {
        try cluster.createTopic(TopicSpecification(name: topic, partitions: partitions, replicationFactor: brokers))
    }
    return cluster
}

/// A consumer in its own new group, reading `topics` from the beginning.
public func makeConsumer(bootstrapServers: String, topics: [String], group: String = "test-\(UUID().uuidString)") throws -> KafkaConsumer {
    try KafkaConsumer(
        configuration: KafkaConsumerConfiguration(
            client: KafkaClientConfiguration(bootstrapServers: bootstrapServers, clientID: group, statisticsInterval: .zero),
            groupID: group,
            topics: topics,
            sessionTimeout: .seconds(6)
        ),
        logger: quietLogger
    )
}

/// Reads messages until `count` arrived or `timeout` passed; returns what arrived.
public func collect(_ count: Int, from consumer: KafkaConsumer, timeout: Duration = .seconds(30), markDone: Bool = true) async -> [KafkaMessage] {
    await withTaskGroup(of: [KafkaMessage]?.self) { group in
        group.addTask {
            var messages: [KafkaMessage] = []
            for await message in consumer.messages() {
                messages.append(message)
                if markDone { consumer.markDone(message) }
                if messages.count == count { break }
            }
            return messages
        }
        group.addTask {
            try? await Task.sleep(for: timeout)
            return nil
        }
        let first = await group.next()!
        group.cancelAll()
        if let first { return first }
        // Timed out: the collector stops at its next poll and returns what it has.
        return await group.next()! ?? []
    }
}
