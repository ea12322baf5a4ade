import Contract
import Foundation
import Kafka

/// Builds Crossbill's Kafka messages: a JSON value with CloudEvents headers (DESIGN.md §2).
public enum EventMessages {
    /// CloudEvents attributes in Kafka binary mode plus the W3C trace context.
    public static func headers(id: String, type: String, source: String, traceParent: String, time: Date = Date()) -> [KafkaHeader] {
        [
            KafkaHeader(name: MessageHeader.id, value: id),
            KafkaHeader(name: MessageHeader.type, value: type),
            KafkaHeader(name: MessageHeader.source, value: source),
            KafkaHeader(name: MessageHeader.time, value: time.crossbillTimestamp),
            KafkaHeader(name: MessageHeader.specVersion, value: MessageHeader.specVersionValue),
            KafkaHeader(name: MessageHeader.contentType, value: MessageHeader.jsonContentType),
            KafkaHeader(name: MessageHeader.traceParent, value: traceParent),
        ]
    }

    /// A message with a JSON-encoded value, keyed like the message it follows from.
    public static func json<Value: Encodable>(
        _ value: Value, topic: String, key: [UInt8], id: String, type: String, source: String, traceParent: String
    ) throws -> KafkaOutgoingMessage {
        KafkaOutgoingMessage(
            topic: topic, key: key, value: Array(try encoder.encode(value)),
            headers: headers(id: id, type: type, source: source, traceParent: traceParent))
    }

    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()
}

/// Event types of the messages Crossbill produces itself.
public enum CrossbillEventType {
    public static let upsertCommand = "crossbill.command.upsert"
    public static let syncResult = "crossbill.sync.result"
}
