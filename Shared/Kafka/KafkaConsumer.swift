import CRdKafka
import Dispatch
import Logging
import Synchronization

/// A consumer-group member with at-least-once delivery: an offset is committed only after the caller
/// marked the message — and every message before it in its partition — done.
///
/// Iterate `messages()` from one task. Each fetch is a batch; blocking waits run on the consumer's own
/// dispatch queue, never on Swift's cooperative pool. Call `close()` when done: it commits what is done
/// and leaves the group, so the partitions move to other members at once.
public final class KafkaConsumer: Sendable {
    private let client: RDKafkaClient
    private let queue: SendableQueuePointer
    private let configuration: KafkaConsumerConfiguration
    private let logger: Logger
    private let tracker = Mutex(OffsetTracker())
    private let closed = Atomic<Bool>(false)
    /// Serialises polling and closing, which librdkafka must not do concurrently on one consumer.
    private let pollQueue: DispatchQueue

    /// Wraps librdkafka's consumer queue pointer; the queue is thread-safe and lives as long as `self`.
    private struct SendableQueuePointer: @unchecked Sendable { let pointer: OpaquePointer }

    public init(configuration: KafkaConsumerConfiguration, logger: Logger) throws {
        var logger = logger
        logger[metadataKey: "kafka.client.id"] = "\(configuration.client.clientID)"
        logger[metadataKey: "kafka.group.id"] = "\(configuration.groupID)"
        let callbacks = RDKafkaCallbacks(logger: logger, clientID: configuration.client.clientID)
        let client = try RDKafkaClient(kind: .consumer, properties: configuration.properties, callbacks: callbacks)
        rd_kafka_poll_set_consumer(client.handle)
        self.client = client
        self.queue = SendableQueuePointer(pointer: rd_kafka_queue_get_consumer(client.handle))
        self.configuration = configuration
        self.logger = logger
        self.pollQueue = DispatchQueue(label: "crossbill.kafka.consumer.\(configuration.groupID)")
        callbacks.onRebalance.withLock { handler in
            handler = { [weak self] event in
                self?.tracker.withLock { tracker in
                    switch event {
                    case .assigned(let partitions): tracker.assign(partitions)
                    case .revoked(let partitions): tracker.revoke(partitions)
                    }
                }
            }
        }
        try subscribe(configuration.topics)
    }

    deinit {
        rd_kafka_queue_destroy(queue.pointer)
    }

    private func subscribe(_ topics: [String]) throws {
        let list = rd_kafka_topic_partition_list_new(Int32(topics.count))
        defer { rd_kafka_topic_partition_list_destroy(list) }
        for topic in topics { rd_kafka_topic_partition_list_add(list, topic, RD_KAFKA_PARTITION_UA) }
        let error = rd_kafka_subscribe(client.handle, list)
        guard error.isSuccess else { throw KafkaError(error, context: "cannot subscribe to \(topics)") }
    }

    /// The messages of the subscribed topics, in order per partition. Ends when the consuming task is
    /// cancelled or the consumer is closed.
    public func messages() -> KafkaMessages { KafkaMessages(consumer: self) }

    /// The next messages, at most `batchSize`, waiting up to `timeout` for the first one. Empty when
    /// nothing arrived in time or the consumer is closed. Call from one task at a time.
    public func poll(timeout: Duration) async -> [KafkaMessage] {
        let ready = fetchBatch(timeout: .zero)
        if !ready.isEmpty || timeout == .zero { return ready }
        return await fetchBatchWaiting(timeout: timeout)
    }

    /// Marks a message done: its effects are durable. Its offset is committed once every earlier message
    /// of its partition is done too.
    public func markDone(_ message: KafkaMessage) {
        tracker.withLock { tracker in
            guard let next = tracker.markDone(message.topicPartition, offset: message.offset) else { return }
            // Stored under the lock, so offsets of one partition are stored in ascending order.
            let list = rd_kafka_topic_partition_list_new(1)
            defer { rd_kafka_topic_partition_list_destroy(list) }
            rd_kafka_topic_partition_list_add(list, message.topic, message.partition).pointee.offset = next
            let error = rd_kafka_offsets_store(client.handle, list)
            if !error.isSuccess {
                logger.debug("offset not stored", metadata: ["kafka.partition": "\(message.topicPartition)"])
            }
        }
    }

    /// Commits the offsets of done messages now, instead of waiting for the background commit.
    public func commit() async throws {
        try await pollQueue.run { [client] in
            let error = rd_kafka_commit(client.handle, nil, 0)
            guard error.isSuccess || error == RD_KAFKA_RESP_ERR__NO_OFFSET else {
                throw KafkaError(error, context: "commit failed")
            }
        }
    }

    /// Commits what is done, leaves the group and stops the message sequence. Gives up after the
    /// configured close timeout, so an unreachable cluster cannot hold up a shutdown: the group then
    /// reassigns the partitions after the session timeout, and uncommitted messages are redelivered.
    public func close() async {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let timeout = configuration.closeTimeout
        await pollQueue.run { [client, logger] in
            // The asynchronous close forwards the final rebalance to this queue. It is served through
            // the event API: polling it for callbacks would abort on ops that are not callbacks.
            let events = rd_kafka_queue_new(client.handle)
            defer { rd_kafka_queue_destroy(events) }
            if let failure = rd_kafka_consumer_close_queue(client.handle, events) {
                logger.warning("Kafka consumer close failed", metadata: ["kafka.error": "\(String(cString: rd_kafka_error_string(failure)))"])
                rd_kafka_error_destroy(failure)
                client.skipConsumerCloseOnDestroy()
                return
            }
            let deadline = ContinuousClock.now + timeout
            while rd_kafka_consumer_closed(client.handle) == 0 {
                guard ContinuousClock.now < deadline else {
                    logger.warning("Kafka consumer could not leave its group in time; closing without it",
                                   metadata: ["kafka.close_timeout": "\(timeout)"])
                    client.skipConsumerCloseOnDestroy()
                    return
                }
                guard let event = rd_kafka_queue_poll(events, 100) else { continue }
                if rd_kafka_event_type(event) == RD_KAFKA_EVENT_REBALANCE {
                    client.callbacks.rebalance(
                        handle: client.handle, error: rd_kafka_event_error(event), partitions: rd_kafka_event_topic_partition_list(event))
                }
                rd_kafka_event_destroy(event)
            }
        }
    }

    var isClosed: Bool { closed.load(ordering: .acquiring) }

    /// Fetches up to `batchSize` messages, waiting at most `timeout`. Blocking when `timeout` > 0.
    func fetchBatch(timeout: Duration, capacity: Int? = nil) -> [KafkaMessage] {
        guard !isClosed else { return [] }
        let capacity = capacity ?? configuration.batchSize
        var raw = [UnsafeMutablePointer<rd_kafka_message_t>?](repeating: nil, count: capacity)
        let count = rd_kafka_consume_batch_queue(queue.pointer, Int32(timeout.milliseconds), &raw, capacity)
        guard count > 0 else { return [] }
        var batch: [KafkaMessage] = []
        batch.reserveCapacity(count)
        for pointer in raw.prefix(count) {
            guard let pointer else { continue }
            defer { rd_kafka_message_destroy(pointer) }
            let message = pointer.pointee
            guard message.err.isSuccess else {
                if message.err != RD_KAFKA_RESP_ERR__PARTITION_EOF {
                    logger.warning("Kafka consumer error", metadata: ["kafka.error": "\(KafkaError(message.err))"])
                }
                continue
            }
            batch.append(KafkaMessage(copying: pointer))
        }
        tracker.withLock { tracker in
            for message in batch { tracker.received(message.topicPartition, offset: message.offset) }
        }
        return batch
    }

    /// Waits up to `timeout` for a message, then takes what else is ready. librdkafka's batch consume
    /// waits for a whole batch until the timeout, which held every message that found its consumer
    /// idle for the full timeout; so only the first message is waited for.
    func fetchBatchWaiting(timeout: Duration) async -> [KafkaMessage] {
        await pollQueue.run { [self] in
            let first = fetchBatch(timeout: timeout, capacity: 1)
            return first.isEmpty ? [] : first + fetchBatch(timeout: .zero)
        }
    }
}

/// The messages of a `KafkaConsumer`.
public struct KafkaMessages: AsyncSequence, Sendable {
    public typealias Element = KafkaMessage
    let consumer: KafkaConsumer

    public struct AsyncIterator: AsyncIteratorProtocol {
        let consumer: KafkaConsumer
        var buffered: [KafkaMessage] = []
        var index = 0

        public mutating func next() async -> KafkaMessage? {
            while index == buffered.count {
                guard !Task.isCancelled, !consumer.isClosed else { return nil }
                index = 0
                // A non-blocking fetch first; only an empty queue costs a hop to the poll queue.
                buffered = consumer.fetchBatch(timeout: .zero)
                if buffered.isEmpty { buffered = await consumer.fetchBatchWaiting(timeout: .milliseconds(100)) }
            }
            defer { index += 1 }
            return buffered[index]
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(consumer: consumer) }
}

extension KafkaMessage {
    init(copying pointer: UnsafeMutablePointer<rd_kafka_message_t>) {
        let message = pointer.pointee
        let topic = message.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? ""
        let key = message.key.map { Array(UnsafeRawBufferPointer(start: $0, count: message.key_len)) }
        let value = message.payload.map { Array(UnsafeRawBufferPointer(start: $0, count: message.len)) } ?? []
        var headers: [KafkaHeader] = []
        var list: OpaquePointer?
        if rd_kafka_message_headers(pointer, &list).isSuccess, let list {
            var index = 0
            var name: UnsafePointer<CChar>?
            var headerValue: UnsafeRawPointer?
            var size = 0
            while rd_kafka_header_get_all(list, index, &name, &headerValue, &size).isSuccess {
                let bytes = headerValue.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) } ?? []
                headers.append(KafkaHeader(name: name.map { String(cString: $0) } ?? "", value: bytes))
                index += 1
            }
        }
        self.init(
            topic: topic, partition: message.partition, offset: message.offset,
            key: key, value: value, headers: headers
        )
    }
}
