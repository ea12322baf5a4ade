import CRdKafka
import Foundation
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// An idempotent, `acks=all` producer whose `send` returns once the brokers acknowledged the message.
///
/// librdkafka batches messages from concurrent senders. A dedicated thread serves its delivery reports,
/// so no Swift task ever blocks. As a `Service`, it flushes what is in flight on graceful shutdown.
public final class KafkaProducer: Service, Sendable {
    private let client: RDKafkaClient
    private let configuration: KafkaProducerConfiguration
    private let logger: Logger
    private let pollThread: PollThread
    private let state = Mutex(State.open)
    private let sentCounter: Counter
    private let failedCounter: Counter

    private enum State { case open, closing, closed }

    public init(configuration: KafkaProducerConfiguration, logger: Logger) throws {
        var logger = logger
        logger[metadataKey: "kafka.client.id"] = "\(configuration.client.clientID)"
        let callbacks = RDKafkaCallbacks(logger: logger, clientID: configuration.client.clientID)
        self.client = try RDKafkaClient(kind: .producer, properties: configuration.properties, callbacks: callbacks)
        self.configuration = configuration
        self.logger = logger
        self.pollThread = PollThread(name: "kafka-delivery", client: client)
        let dimensions = [("client_id", configuration.client.clientID)]
        self.sentCounter = Counter(label: "kafka_producer_messages_delivered_total", dimensions: dimensions)
        self.failedCounter = Counter(label: "kafka_producer_messages_failed_total", dimensions: dimensions)
        pollThread.start()
    }

    deinit {
        close(flushTimeout: .zero)
    }

    /// Produces `message` and waits for the brokers' acknowledgement (all in-sync replicas).
    ///
    /// Throws `KafkaError` when the message could not be queued (queue full, client closed) or was not
    /// acknowledged within `deliveryTimeout`. A message whose send threw may still have reached the
    /// broker only if the acknowledgement itself was lost; consumers dedupe on the `ce_id` header.
    public func send(_ message: KafkaOutgoingMessage) async throws -> KafkaDeliveryReport {
        try await deliver([message]).get()
    }

    /// Produces `messages` in their order and waits until the brokers acknowledged every one.
    ///
    /// Messages with the same key keep their order in the partition, which concurrent single sends do
    /// not promise. Throws the first `KafkaError` once every message is settled; the others may have
    /// been stored, and a retry stores them twice with the same `ce_id`.
    public func send(_ messages: [KafkaOutgoingMessage]) async throws {
        guard !messages.isEmpty else { return }
        _ = try await deliver(messages).get()
    }

    /// Queues the messages in order; resumes with the last report, or the first failure, once all are settled.
    private func deliver(_ messages: [KafkaOutgoingMessage]) async -> Result<KafkaDeliveryReport, KafkaError> {
        let settled = await withCheckedContinuation { continuation in
            let deliveries = DeliveryGroup(count: messages.count, continuation)
            // After a message that cannot be queued, queue none of the rest: they would overtake it.
            var refusal: KafkaError?
            for message in messages {
                refusal = refusal ?? enqueue(message, deliveries: deliveries)
                if let refusal { deliveries.settle(.failure(refusal)) }
            }
        }
        if settled.delivered > 0 { sentCounter.increment(by: settled.delivered) }
        if settled.failed > 0 { failedCounter.increment(by: settled.failed) }
        return settled.outcome
    }

    /// Queues the message; returns the error when it could not be queued.
    private func enqueue(_ message: KafkaOutgoingMessage, deliveries: DeliveryGroup) -> KafkaError? {
        guard state.withLock({ $0 == .open }) else { return .clientClosed }
        let headers = rd_kafka_headers_new(message.headers.count)
        for header in message.headers {
            header.value.withUnsafeBytes { value in
                _ = rd_kafka_header_add(headers, header.name, -1, value.baseAddress, value.count)
            }
        }
        // One reference per queued message, released by its delivery report.
        let opaque = Unmanaged.passRetained(deliveries).toOpaque()
        let error = message.key.withUnsafeBytes { key in
            message.value.withUnsafeBytes { value in
                crossbill_produce(
                    client.handle, message.topic,
                    key.baseAddress, key.count, value.baseAddress, value.count,
                    headers, opaque
                )
            }
        }
        guard error.isSuccess else {
            // Not queued: librdkafka did not take the headers or the reference.
            rd_kafka_headers_destroy(headers)
            Unmanaged<DeliveryGroup>.fromOpaque(opaque).release()
            return KafkaError(error, context: "cannot queue message for \(message.topic)")
        }
        return nil
    }

    /// Checks that the brokers answer, for readiness probes.
    public func checkConnectivity(timeout: Duration = .seconds(2)) async throws {
        try await runBlocking { [client] in try client.fetchMetadata(timeout: timeout) }
    }

    /// Runs until graceful shutdown, then flushes in-flight messages and closes.
    public func run() async throws {
        try? await gracefulShutdown()
        let flushTimeout = configuration.deliveryTimeout
        await runBlocking { [self] in close(flushTimeout: flushTimeout) }
    }

    /// Stops intake, waits up to `flushTimeout` for in-flight messages, then fails what is left.
    /// Blocking: call it from a thread that may block (see `run()`).
    public func close(flushTimeout: Duration) {
        let wasOpen = state.withLock { state in
            defer { state = .closed }
            return state == .open
        }
        guard wasOpen else { return }
        let flushed = rd_kafka_flush(client.handle, Int32(flushTimeout.milliseconds))
        if !flushed.isSuccess {
            logger.warning("Kafka producer closed with undelivered messages; their senders get an error")
            rd_kafka_purge(client.handle, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT)
            client.poll(timeout: .zero)
        }
        pollThread.stop()
    }
}

/// The delivery reports of the messages one `send` queued: resumes the sender once, when the last
/// report is in, with the last report or the first failure.
final class DeliveryGroup: Sendable {
    struct Settled: Sendable {
        let outcome: Result<KafkaDeliveryReport, KafkaError>
        let delivered: Int
        let failed: Int
    }

    private struct State {
        var remaining: Int
        var delivered = 0
        var lastReport: KafkaDeliveryReport?
        var firstFailure: KafkaError?
        var failed = 0
        var continuation: CheckedContinuation<Settled, Never>?
    }

    private let state: Mutex<State>

    init(count: Int, _ continuation: CheckedContinuation<Settled, Never>) {
        state = Mutex(State(remaining: count, continuation: continuation))
    }

    func settle(_ result: Result<KafkaDeliveryReport, KafkaError>) {
        let finished = state.withLock { state -> (CheckedContinuation<Settled, Never>, Settled)? in
            switch result {
            case .success(let report):
                state.delivered += 1
                state.lastReport = report
            case .failure(let error):
                state.failed += 1
                state.firstFailure = state.firstFailure ?? error
            }
            state.remaining -= 1
            guard state.remaining == 0, let continuation = state.continuation else { return nil }
            state.continuation = nil
            // Every message settled, so there is a failure or a last report.
            let outcome: Result<KafkaDeliveryReport, KafkaError> =
                state.firstFailure.map { .failure($0) } ?? state.lastReport.map { .success($0) } ?? .failure(.clientClosed)
            return (continuation, Settled(outcome: outcome, delivered: state.delivered, failed: state.failed))
        }
        if let (continuation, settled) = finished { continuation.resume(returning: settled) }
    }
}

/// Serves a client's callbacks on its own thread, so they never wait for a Swift task.
final class PollThread: Sendable {
    /// The thread's name in `top -H` and `perf`: at most 15 bytes, or Linux keeps the process's name.
    private let name: String
    private let client: RDKafkaClient
    private let running = Atomic<Bool>(false)
    private let exited = DispatchSemaphore(value: 0)

    init(name: String, client: RDKafkaClient) {
        self.name = name
        self.client = client
    }

    func start() {
        running.store(true, ordering: .releasing)
        let thread = Thread { [self] in
            Thread.current.name = name
            while running.load(ordering: .acquiring) {
                client.poll(timeout: .milliseconds(100))
            }
            exited.signal()
        }
        thread.start()
    }

    /// Stops the thread and waits until it left its loop.
    func stop() {
        guard running.exchange(false, ordering: .acquiringAndReleasing) else { return }
        exited.wait()
    }
}

/// Runs blocking librdkafka calls on a dispatch queue, away from Swift's cooperative pool.
func runBlocking<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await blockingQueue.run(work)
}

func runBlocking<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await blockingQueue.run(work)
}

private let blockingQueue = DispatchQueue(label: "crossbill.kafka.blocking", attributes: .concurrent)

extension DispatchQueue {
    /// Runs `work` on this queue and returns its result to the awaiting task.
    package func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            async { continuation.resume(with: Result { try work() }) }
        }
    }

    package func run<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            async { continuation.resume(returning: work()) }
        }
    }
}
