import CRdKafka
import Foundation
import Logging
import Metrics
import Synchronization

/// The only type that owns a `rd_kafka_t`. librdkafka calls back into `RDKafkaCallbacks` through the
/// handle's opaque pointer; the callbacks object lives as long as the handle.
final class RDKafkaClient: @unchecked Sendable {
    // @unchecked: `handle` is set once in init and librdkafka's API is thread-safe for every call made here.
    let handle: OpaquePointer
    let callbacks: RDKafkaCallbacks
    /// Set when a consumer gave up leaving its group (brokers unreachable): destroying must not try again.
    private let skipsConsumerCloseOnDestroy = Atomic<Bool>(false)

    enum Kind {
        case producer, consumer

        var rawValue: rd_kafka_type_t {
            self == .producer ? RD_KAFKA_PRODUCER : RD_KAFKA_CONSUMER
        }
    }

    init(kind: Kind, properties: [String: String], callbacks: RDKafkaCallbacks) throws {
        let conf = rd_kafka_conf_new()
        var errorText = [CChar](repeating: 0, count: 512)
        for (name, value) in properties.sorted(by: { $0.key < $1.key }) {
            if rd_kafka_conf_set(conf, name, value, &errorText, errorText.count) != RD_KAFKA_CONF_OK {
                rd_kafka_conf_destroy(conf)
                throw KafkaError(code: nil, message: "invalid Kafka property \(name): \(String(cBuffer: errorText))")
            }
        }
        rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(callbacks).toOpaque())
        rd_kafka_conf_set_log_cb(conf) { handle, level, facility, text in
            RDKafkaCallbacks.from(handle)?.log(level: level, facility: facility, text: text)
        }
        rd_kafka_conf_set_error_cb(conf) { _, error, reason, opaque in
            RDKafkaCallbacks.from(opaque)?.error(rd_kafka_resp_err_t(error), reason: reason)
        }
        rd_kafka_conf_set_stats_cb(conf) { _, json, length, opaque in
            RDKafkaCallbacks.from(opaque)?.statistics(json: json, length: length)
            return 0  // librdkafka frees the JSON
        }
        switch kind {
        case .producer:
            rd_kafka_conf_set_dr_msg_cb(conf) { _, message, _ in
                guard let message else { return }
                RDKafkaCallbacks.delivered(message.pointee)
            }
        case .consumer:
            rd_kafka_conf_set_rebalance_cb(conf) { handle, error, partitions, opaque in
                guard let handle else { return }
                RDKafkaCallbacks.from(opaque)?.rebalance(handle: handle, error: error, partitions: partitions)
            }
        }
        // On success rd_kafka_new owns the configuration, on failure the caller does.
        guard let handle = rd_kafka_new(kind.rawValue, conf, &errorText, errorText.count) else {
            rd_kafka_conf_destroy(conf)
            throw KafkaError(code: nil, message: "cannot create Kafka client: \(String(cBuffer: errorText))")
        }
        self.handle = handle
        self.callbacks = callbacks
    }

    deinit {
        if skipsConsumerCloseOnDestroy.load(ordering: .acquiring) {
            rd_kafka_destroy_flags(handle, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE)
        } else {
            rd_kafka_destroy(handle)
        }
    }

    /// Destroy without the consumer close that `rd_kafka_destroy` would otherwise block on.
    func skipConsumerCloseOnDestroy() {
        skipsConsumerCloseOnDestroy.store(true, ordering: .releasing)
    }

    /// Serves queued callbacks (delivery reports, logs, statistics), waiting at most `timeout`.
    func poll(timeout: Duration) {
        rd_kafka_poll(handle, Int32(timeout.milliseconds))
    }

    /// Asks the cluster for its metadata: proves the brokers are reachable. Blocks up to `timeout`.
    func fetchMetadata(timeout: Duration) throws {
        var metadata: UnsafePointer<rd_kafka_metadata>?
        let error = rd_kafka_metadata(handle, 0, nil, &metadata, Int32(timeout.milliseconds))
        if let metadata { rd_kafka_metadata_destroy(metadata) }
        guard error.isSuccess else { throw KafkaError(error, context: "metadata request failed") }
    }
}

/// Receives librdkafka's callbacks for one client: logs to swift-log, statistics to swift-metrics,
/// rebalances to the consumer's offset tracker.
final class RDKafkaCallbacks: Sendable {
    let logger: Logger
    let statistics: KafkaStatisticsExporter
    let onRebalance: Mutex<(@Sendable (RebalanceEvent) -> Void)?> = Mutex(nil)

    enum RebalanceEvent {
        case assigned([TopicPartition])
        case revoked([TopicPartition])
    }

    init(logger: Logger, clientID: String) {
        self.logger = logger
        self.statistics = KafkaStatisticsExporter(clientID: clientID)
    }

    static func from(_ handle: OpaquePointer?) -> RDKafkaCallbacks? {
        guard let handle, let opaque = rd_kafka_opaque(handle) else { return nil }
        return Unmanaged<RDKafkaCallbacks>.fromOpaque(opaque).takeUnretainedValue()
    }

    static func from(_ opaque: UnsafeMutableRawPointer?) -> RDKafkaCallbacks? {
        guard let opaque else { return nil }
        return Unmanaged<RDKafkaCallbacks>.fromOpaque(opaque).takeUnretainedValue()
    }

    func log(level: Int32, facility: UnsafePointer<CChar>?, text: UnsafePointer<CChar>?) {
        // librdkafka uses syslog levels: 0 emergency … 7 debug.
        let swiftLevel: Logger.Level =
            switch level {
            case ...2: .critical
            case 3: .error
            case 4: .warning
            case 5, 6: .info
            default: .debug
            }
        logger.log(
            level: swiftLevel,
            "\(text.map { String(cString: $0) } ?? "")",
            metadata: ["kafka.facility": "\(facility.map { String(cString: $0) } ?? "")"]
        )
    }

    func error(_ error: rd_kafka_resp_err_t, reason: UnsafePointer<CChar>?) {
        let text = reason.map { String(cString: $0) } ?? ""
        // Transport errors are retried by librdkafka itself; they are worth a warning, not more.
        logger.warning(
            "Kafka client error",
            metadata: ["kafka.error": "\(String(cString: rd_kafka_err2name(error)))", "kafka.reason": "\(text)"]
        )
    }

    func statistics(json: UnsafeMutablePointer<CChar>?, length: Int) {
        guard let json else { return }
        let data = Data(bytes: json, count: length)
        statistics.export(data)
    }

    func rebalance(handle: OpaquePointer, error: rd_kafka_resp_err_t, partitions: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?) {
        let cooperative = String(cString: rd_kafka_rebalance_protocol(handle)) == "COOPERATIVE"
        let list = partitions.map(TopicPartition.list) ?? []
        switch error {
        case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
            if cooperative {
                if let failure = rd_kafka_incremental_assign(handle, partitions) { rd_kafka_error_destroy(failure) }
            } else {
                rd_kafka_assign(handle, partitions)
            }
            logger.info("Kafka partitions assigned", metadata: ["kafka.partitions": "\(list)"])
            onRebalance.withLock { $0 }?(.assigned(list))
        default:
            // Revocation (or a rebalance error): forget the partitions before giving them up, so
            // nothing is stored for a partition this member no longer owns.
            onRebalance.withLock { $0 }?(.revoked(list))
            if cooperative {
                if let failure = rd_kafka_incremental_unassign(handle, partitions) { rd_kafka_error_destroy(failure) }
            } else {
                rd_kafka_assign(handle, nil)
            }
            logger.info("Kafka partitions revoked", metadata: ["kafka.partitions": "\(list)"])
        }
    }

    /// Settles the message in the delivery group carried as its opaque.
    static func delivered(_ message: rd_kafka_message_t) {
        guard let opaque = message._private else { return }
        let deliveries = Unmanaged<DeliveryGroup>.fromOpaque(opaque).takeRetainedValue()
        if message.err.isSuccess {
            let topic = message.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? ""
            deliveries.settle(.success(KafkaDeliveryReport(topic: topic, partition: message.partition, offset: message.offset)))
        } else {
            deliveries.settle(.failure(KafkaError(message.err, context: "delivery failed")))
        }
    }
}

/// A topic and partition, as Kafka names them.
public struct TopicPartition: Hashable, Sendable, CustomStringConvertible {
    public let topic: String
    public let partition: Int32

    public init(topic: String, partition: Int32) {
        self.topic = topic
        self.partition = partition
    }

    public var description: String { "\(topic)[\(partition)]" }

    static func list(_ pointer: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) -> [TopicPartition] {
        let list = pointer.pointee
        return (0..<Int(list.cnt)).map { index in
            let element = list.elems[index]
            return TopicPartition(topic: String(cString: element.topic), partition: element.partition)
        }
    }
}
