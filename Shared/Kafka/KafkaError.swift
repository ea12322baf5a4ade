import CRdKafka

/// An error reported by librdkafka or by the Crossbill Kafka layer.
public struct KafkaError: Error, Sendable, CustomStringConvertible {
    /// librdkafka's error code (`rd_kafka_resp_err_t`), `nil` for errors raised by this layer.
    public let code: Int32?
    public let message: String

    /// The client was closed, or is closing, and takes no more work.
    public static let clientClosed = KafkaError(code: nil, message: "the Kafka client is closed")

    init(code: Int32?, message: String) {
        self.code = code
        self.message = message
    }

    init(_ error: rd_kafka_resp_err_t, context: String? = nil) {
        let name = String(cString: rd_kafka_err2name(error))
        let reason = String(cString: rd_kafka_err2str(error))
        let prefix = context.map { "\($0): " } ?? ""
        self.init(code: error.rawValue, message: "\(prefix)\(reason) (\(name))")
    }

    /// The local queue is full: the broker is slower than the producers. Back off and try again.
    public var isQueueFull: Bool { code == RD_KAFKA_RESP_ERR__QUEUE_FULL.rawValue }

    /// The message was not acknowledged within the delivery timeout.
    public var isTimeout: Bool {
        code == RD_KAFKA_RESP_ERR__MSG_TIMED_OUT.rawValue || code == RD_KAFKA_RESP_ERR__TIMED_OUT.rawValue
    }

    public var description: String { "KafkaError: \(message)" }
}

extension rd_kafka_resp_err_t {
    var isSuccess: Bool { self == RD_KAFKA_RESP_ERR_NO_ERROR }
}

extension String {
    /// The text of a NUL-terminated C buffer that librdkafka filled in.
    init(cBuffer: [CChar]) {
        self = cBuffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }
}
