import Kafka
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// Consumes topics in batches and hands each batch to `process`; messages are marked done (and their
/// offsets committed) only after `process` returned, so a crash replays the batch (DESIGN.md §3.2).
///
/// A batch whose processing throws is retried after a pause: the error is in Crossbill's own
/// infrastructure (Kafka, SQLite), and skipping the batch would lose it. On graceful shutdown the
/// service finishes the batch in hand, commits and leaves the group.
public struct BatchConsumerService: Service {
    public typealias Process = @Sendable ([KafkaMessage]) async throws -> Void

    private let consumer: KafkaConsumer
    private let process: Process
    private let logger: Logger
    private let retryPause: Duration
    private let maximumBatch: Int
    private let linger: Duration
    private let failures: Counter

    /// `linger`: once a message arrived, how long to keep collecting until `maximumBatch` messages,
    /// trading latency for fewer, fuller writes downstream.
    public init(
        consumer: KafkaConsumer, name: String, logger: Logger, maximumBatch: Int = 1000, linger: Duration = .zero,
        retryPause: Duration = .seconds(1), process: @escaping Process
    ) {
        self.consumer = consumer
        self.process = process
        self.logger = logger
        self.maximumBatch = maximumBatch
        self.linger = linger
        self.retryPause = retryPause
        self.failures = Counter(label: "crossbill_batch_failures_total", dimensions: [("service", name)])
    }

    public func run() async throws {
        let stopping = ShutdownFlag()
        await withGracefulShutdownHandler {
            while !stopping.isSet, !Task.isCancelled {
                var batch = await consumer.poll(timeout: .milliseconds(100))
                guard !batch.isEmpty else { continue }
                let deadline = ContinuousClock.now + linger
                while batch.count < maximumBatch, ContinuousClock.now < deadline, !stopping.isSet {
                    batch += await consumer.poll(timeout: min(deadline - ContinuousClock.now, .milliseconds(10)))
                }
                await processUntilDone(batch, stopping: stopping)
            }
        } onGracefulShutdown: {
            stopping.set()
        }
        try? await consumer.commit()
        await consumer.close()
    }

    private func processUntilDone(_ batch: [KafkaMessage], stopping: ShutdownFlag) async {
        while !Task.isCancelled {
            do {
                try await process(batch)
                for message in batch { consumer.markDone(message) }
                return
            } catch {
                failures.increment()
                logger.error("batch failed; retrying it", metadata: ["error": "\(error)", "messages": "\(batch.count)"])
                // Left unmarked, the batch is redelivered to whichever member owns it after a restart.
                if stopping.isSet { return }
                try? await Task.sleep(for: retryPause)
            }
        }
    }
}

/// Set once, read from any task.
final class ShutdownFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    var isSet: Bool { flag.load(ordering: .acquiring) }
    func set() { flag.store(true, ordering: .releasing) }
}

