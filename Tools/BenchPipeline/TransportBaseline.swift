import Contract
import Foundation
import Kafka
import Logging

/// The transport ceiling, measured in the same run: raw librdkafka produce (acks=all, idempotent) and
/// consume of webhook-sized messages through `billing.events` on a dev broker of its own, with no
/// service in between. The pipeline's events per second are reported against it.
enum TransportBaseline {
    static func measure(binaries: URL, directory: URL, messages: Int, value: [UInt8]) async throws -> Double {
        let broker = try StackProcess(
            "transport-broker", executable: binaries.appendingPathComponent("dev-broker"),
            arguments: ["--control-port", "0", "--partitions", "6", "--bootstrap-file", directory.appendingPathComponent("transport-bootstrap").path],
            logDirectory: directory)
        do {
            let bootstrap = try await waitForFile(directory.appendingPathComponent("transport-bootstrap"))
                .trimmingCharacters(in: .whitespacesAndNewlines)
            let rate = try await run(bootstrap: bootstrap, messages: messages, value: value)
            await broker.stop()
            return rate
        } catch {
            await broker.stop()
            throw error
        }
    }

    private static func run(bootstrap: String, messages: Int, value: [UInt8]) async throws -> Double {
        let logger = Logger(label: "bench-transport")
        // librdkafka's default fetch wait: the ceiling is throughput, not latency.
        let client = KafkaClientConfiguration(
            bootstrapServers: bootstrap, clientID: "bench-transport", statisticsInterval: .zero, maxInFlight: PipelineStack.maxInFlight)
        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(client: client), logger: logger)
        let consumer = try KafkaConsumer(
            configuration: KafkaConsumerConfiguration(client: client, groupID: "bench-transport", topics: [Topic.billingEvents], batchSize: 5000),
            logger: logger)
        // One message through before the clock starts: the consumer has joined its group and every
        // connection is open.
        _ = try await producer.send(KafkaOutgoingMessage(topic: Topic.billingEvents, key: Array("bench/warm-up".utf8), value: value))
        let joined = ContinuousClock.now + .seconds(30)
        var warmedUp = false
        while !warmedUp, ContinuousClock.now < joined {
            let batch = await consumer.poll(timeout: .milliseconds(200))
            for message in batch { consumer.markDone(message) }
            warmedUp = !batch.isEmpty
        }
        guard warmedUp else { throw BenchError("the transport baseline's consumer received nothing within 30 s") }
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                // At most 2,000 sends in flight, like a busy producer.
                try await withThrowingTaskGroup(of: Void.self) { sends in
                    for index in 0..<messages {
                        if index >= 2000 { try await sends.next() }
                        sends.addTask {
                            _ = try await producer.send(KafkaOutgoingMessage(
                                topic: Topic.billingEvents, key: Array("bench/customer-\(index % 5000)".utf8), value: value))
                        }
                    }
                    try await sends.waitForAll()
                }
            }
            group.addTask {
                var received = 0
                while received < messages {
                    let batch = await consumer.poll(timeout: .seconds(5))
                    guard !batch.isEmpty else { throw BenchError("the transport baseline stopped receiving after \(received) messages") }
                    received += batch.count
                    for message in batch { consumer.markDone(message) }
                }
            }
            try await group.waitForAll()
        }
        let elapsed = ContinuousClock.now - start
        await consumer.close()
        producer.close(flushTimeout: .seconds(5))
        return Double(messages) / elapsed.inSeconds
    }
}
