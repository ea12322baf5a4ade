import Foundation
import Kafka
import TestSupport
import Testing

@Suite("Kafka producer and consumer against the mock cluster", .timeLimit(.minutes(2)))
struct KafkaRoundTripTests {
    let topic = "round-trip"
    let cluster: KafkaMockCluster
    let producer: KafkaProducer

    init() throws {
        cluster = try makeMockCluster(topics: [topic], partitions: 3)
        producer = try KafkaProducer(
            configuration: KafkaProducerConfiguration(
                client: KafkaClientConfiguration(bootstrapServers: cluster.bootstrapServers, statisticsInterval: .zero),
                deliveryTimeout: .seconds(5)
            ),
            logger: quietLogger
        )
    }

    private func produce(_ values: [String], key: (Int) -> String = { "customer-\($0)" }) async throws -> [KafkaDeliveryReport] {
        var reports: [KafkaDeliveryReport] = []
        for (index, value) in values.enumerated() {
            reports.append(try await producer.send(KafkaOutgoingMessage(
                topic: topic, key: key(index), value: Array(value.utf8),
                headers: [KafkaHeader(name: "ce_id", value: "id-\(index)"), KafkaHeader(name: "ce_type", value: "test.event")]
            )))
        }
        return reports
    }

    @Test func producedMessagesArriveWithKeysHeadersAndValues() async throws {
        let values = (0..<20).map { "value-\($0)" }
        let reports = try await produce(values, key: { "customer-\($0 % 4)" })
        #expect(reports.allSatisfy { $0.topic == topic && $0.offset >= 0 })

        let consumer = try makeConsumer(bootstrapServers: cluster.bootstrapServers, topics: [topic])
        let messages = await collect(20, from: consumer)
        await consumer.close()

        #expect(messages.count == 20)
        #expect(Set(messages.map { String(decoding: $0.value, as: UTF8.self) }) == Set(values))
        for message in messages {
            let id = try #require(message.header("ce_id"))
            let index = try #require(Int(id.dropFirst(3)))
            #expect(message.keyString == "customer-\(index % 4)")
            #expect(message.header("ce_type") == "test.event")
            #expect(String(decoding: message.value, as: UTF8.self) == "value-\(index)")
        }
        // One key, one partition: per-customer order holds.
        let partitionsByKey = Dictionary(grouping: messages, by: { $0.keyString! }).mapValues { Set($0.map(\.partition)) }
        #expect(partitionsByKey.values.allSatisfy { $0.count == 1 })
    }

    @Test func aBatchSendKeepsTheOrderOfEachKey() async throws {
        // Two keys interleaved, so each key's messages are spread over the batch.
        let messages = (0..<400).map { index in
            KafkaOutgoingMessage(topic: topic, key: "customer-\(index % 2)", value: Array("\(index)".utf8))
        }
        try await producer.send(messages)

        let consumer = try makeConsumer(bootstrapServers: cluster.bootstrapServers, topics: [topic])
        let received = await collect(400, from: consumer)
        await consumer.close()
        #expect(received.count == 400)
        for key in ["customer-0", "customer-1"] {
            let values = received.filter { $0.keyString == key }.compactMap { Int(String(decoding: $0.value, as: UTF8.self)) }
            #expect(values == values.sorted() && values.count == 200, "\(key) arrived in the order sent")
        }
    }

    /// librdkafka's batch consume waits for a whole batch until its timeout; `poll` must not. Waiting
    /// would hold this poll for ten minutes and fail the suite's two-minute limit.
    @Test func pollReturnsTheFirstMessageWithoutWaitingForAFullBatch() async throws {
        _ = try await produce(["alone"])
        let consumer = try makeConsumer(bootstrapServers: cluster.bootstrapServers, topics: [topic])
        var received: [KafkaMessage] = []
        while received.isEmpty { received = await consumer.poll(timeout: .seconds(600)) }
        await consumer.close()
        #expect(received.map { String(decoding: $0.value, as: UTF8.self) } == ["alone"])
    }

    @Test func aMessageNotMarkedDoneIsDeliveredAgainAfterRestart() async throws {
        _ = try await produce(["first", "second", "third"], key: { _ in "one-customer" })
        let group = "at-least-once-\(UUID().uuidString)"

        let crashed = try makeConsumer(bootstrapServers: cluster.bootstrapServers, topics: [topic], group: group)
        let unfinished = await collect(1, from: crashed, markDone: false)
        #expect(unfinished.map(\.offset) == [0])
        await crashed.close()

        let restarted = try makeConsumer(bootstrapServers: cluster.bootstrapServers, topics: [topic], group: group)
        let replayed = await collect(3, from: restarted, markDone: true)
        #expect(replayed.map { String(decoding: $0.value, as: UTF8.self) } == ["first", "second", "third"])
        await restarted.close()

        _ = try await produce(["fourth"], key: { _ in "one-customer" })
        let next = try makeConsumer(bootstrapServers: cluster.bootstrapServers, topics: [topic], group: group)
        let afterCommit = await collect(1, from: next)
        #expect(afterCommit.map { String(decoding: $0.value, as: UTF8.self) } == ["fourth"])
        await next.close()
    }

    @Test func onlyTheContiguousDonePrefixIsCommitted() async throws {
        _ = try await produce(["a", "b", "c"], key: { _ in "one-customer" })
        let group = "prefix-\(UUID().uuidString)"

        let first = try makeConsumer(bootstrapServers: cluster.bootstrapServers, topics: [topic], group: group)
        let messages = await collect(3, from: first, markDone: false)
        #expect(messages.count == 3)
        // "b" is still in progress when the consumer stops; "c" finished before it.
        first.markDone(messages[0])
        first.markDone(messages[2])
        await first.close()

        let second = try makeConsumer(bootstrapServers: cluster.bootstrapServers, topics: [topic], group: group)
        let replayed = await collect(2, from: second)
        #expect(replayed.map { String(decoding: $0.value, as: UTF8.self) } == ["b", "c"])
        await second.close()
    }

    @Test func aConsumerClosesWhenEveryBrokerIsDown() async throws {
        _ = try await produce(["before the outage"])
        let group = "outage-\(UUID().uuidString)"
        let consumer = try KafkaConsumer(
            configuration: KafkaConsumerConfiguration(
                client: KafkaClientConfiguration(bootstrapServers: cluster.bootstrapServers, clientID: group, statisticsInterval: .zero),
                groupID: group, topics: [topic], sessionTimeout: .seconds(6), closeTimeout: .seconds(2)),
            logger: quietLogger)
        #expect(await collect(1, from: consumer, markDone: true).count == 1)
        cluster.setAllBrokers(up: false)
        // Leaving the group cannot succeed now; close gives up after its timeout instead of hanging
        // (the suite's time limit fails the test otherwise).
        await consumer.close()
        // The brokers stay down: bringing one up binds its old port again, which another socket of a
        // busy test run may have taken by then (librdkafka's mock cluster then aborts).
    }

    @Test func sendFailsWhileTheClusterIsDownAndSucceedsAfter() async throws {
        let impatient = try KafkaProducer(
            configuration: KafkaProducerConfiguration(
                client: KafkaClientConfiguration(bootstrapServers: cluster.bootstrapServers, statisticsInterval: .zero),
                // Short, so the brokers are down only briefly: bringing them up binds their old ports again.
                deliveryTimeout: .milliseconds(500)
            ),
            logger: quietLogger
        )
        /// Sends until one send succeeds; returns whether one did.
        func sendEventually(_ value: String) async -> Bool {
            for _ in 0..<80 {
                if (try? await impatient.send(KafkaOutgoingMessage(topic: topic, key: "k", value: Array(value.utf8)))) != nil {
                    return true
                }
            }
            return false
        }
        // A new idempotent producer first fetches metadata and a producer id; that is not under test.
        #expect(await sendEventually("warm-up"))

        cluster.setAllBrokers(up: false)
        await #expect(throws: KafkaError.self) {
            _ = try await impatient.send(KafkaOutgoingMessage(topic: topic, key: "k", value: Array("lost".utf8)))
        }
        cluster.setAllBrokers(up: true)
        #expect(await sendEventually("after"))
    }

    @Test func aClosedProducerRefusesToSend() async throws {
        producer.close(flushTimeout: .seconds(1))
        await #expect(throws: KafkaError.self) {
            _ = try await producer.send(KafkaOutgoingMessage(topic: topic, key: "k", value: []))
        }
        await #expect(throws: KafkaError.self) {
            try await producer.send([KafkaOutgoingMessage(topic: topic, key: "k", value: []), KafkaOutgoingMessage(topic: topic, key: "k", value: [])])
        }
    }
}
