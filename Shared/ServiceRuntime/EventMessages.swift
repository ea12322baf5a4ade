import Contract
import Foundation
import Kafka

/// Builds Crossbill's Kafka messages: a JSON value with CloudEvents headers (DESIGN.md §2).
public enum EventMessages {
    /// CloudEvents attributes in Kafka binary mode plus the W3C trace context.
    public static func headers(
        id: String, type: String, source: String, schema: MessageSchema, traceParent: String, time: Date = Date()
    ) -> [KafkaHeader] {
        [
            KafkaHeader(name: MessageHeader.id, value: id),
            KafkaHeader(name: MessageHeader.type, value: type),
            KafkaHeader(name: MessageHeader.source, value: source),
            KafkaHeader(name: MessageHeader.time, value: time.crossbillTimestamp),
            KafkaHeader(name: MessageHeader.specVersion, value: MessageHeader.specVersionValue),
            KafkaHeader(name: MessageHeader.dataSchema, value: schema.uri),
            KafkaHeader(name: MessageHeader.contentType, value: MessageHeader.jsonContentType),
            KafkaHeader(name: MessageHeader.traceParent, value: traceParent),
        ]
    }

    /// A message with a JSON-encoded value, keyed like the message it follows from.
    public static func json<Value: Encodable>(
        _ value: Value, topic: String, key: [UInt8], id: String, type: String, source: String, schema: MessageSchema,
        traceParent: String
    ) throws -> KafkaOutgoingMessage {
        KafkaOutgoingMessage(
            topic: topic, key: key, value: try JSONValueCoding.encodedBytes(value),
            headers: headers(id: id, type: type, source: source, schema: schema, traceParent: traceParent))
    }

    /// The dead-letter record of a message that failed: the original key, value and headers, plus why
    /// it failed and where the original is. A value over the contract's limit is left out (the original
    /// stays on its topic, at the offset the headers name).
    public static func deadLetter(of message: KafkaMessage, error: ProviderError, attempts: Int) -> KafkaOutgoingMessage {
        var headers = message.headers.filter { !$0.name.hasPrefix(DeadLetterHeader.prefix) } + [
            KafkaHeader(name: DeadLetterHeader.errorCode, value: error.code),
            KafkaHeader(name: DeadLetterHeader.errorMessage, value: error.message),
            KafkaHeader(name: DeadLetterHeader.attempts, value: String(attempts)),
            KafkaHeader(name: DeadLetterHeader.failedAt, value: Date().crossbillTimestamp),
            KafkaHeader(name: DeadLetterHeader.sourceTopic, value: message.topic),
            KafkaHeader(name: DeadLetterHeader.sourcePartition, value: String(message.partition)),
            KafkaHeader(name: DeadLetterHeader.sourceOffset, value: String(message.offset)),
        ]
        if let field = error.path { headers.append(KafkaHeader(name: DeadLetterHeader.errorField, value: field)) }
        let value = message.value.count <= MessageContract.maximumValueBytes ? message.value : []
        return KafkaOutgoingMessage(topic: Topic.deadLetters(of: message.topic), key: message.key ?? [], value: value, headers: headers)
    }
}

/// Event types of the messages Crossbill produces itself.
public enum CrossbillEventType {
    public static let upsertCommand = "crossbill.command.upsert"
    public static let syncResult = "crossbill.sync.result"
}
