/// Header names of every Crossbill message: CloudEvents attributes in Kafka binary mode, plus the
/// W3C trace context (DESIGN.md §2).
public enum MessageHeader {
    /// Stable across retries: the source delivery id, or an id derived from it.
    public static let id = "ce_id"
    public static let type = "ce_type"
    public static let source = "ce_source"
    public static let time = "ce_time"
    public static let specVersion = "ce_specversion"
    /// The value's schema and version, `urn:crossbill:schema:<name>:<version>` (see `MessageSchema`).
    public static let dataSchema = "ce_dataschema"
    public static let contentType = "content-type"
    public static let traceParent = "traceparent"
    /// `known` or `unknown`: whether Crossbill knows the billing platform's webhook type.
    public static let webhookTypeStatus = "crossbill_webhook_type"

    public static let specVersionValue = "1.0"
    public static let jsonContentType = "application/json"
}

/// Headers a dead-letter record carries besides the original message's own: why it failed and where
/// it came from.
public enum DeadLetterHeader {
    public static let prefix = "crossbill_error"
    public static let errorCode = "crossbill_error_code"
    public static let errorMessage = "crossbill_error_message"
    /// The offending field of a message that broke the contract, as a path into the value.
    public static let errorField = "crossbill_error_field"
    public static let attempts = "crossbill_error_attempts"
    public static let failedAt = "crossbill_error_failed_at"
    /// Where the original message is: topic, partition and offset.
    public static let sourceTopic = "crossbill_error_source_topic"
    public static let sourcePartition = "crossbill_error_source_partition"
    public static let sourceOffset = "crossbill_error_source_offset"
}

/// The key of every message: `<organization id>/<external customer id>`, so that all messages about one
/// customer land in the same partition of every topic and keep their order end to end.
public struct MessageKey: Sendable, Hashable, CustomStringConvertible {
    public let organizationID: String
    /// Empty for organization-level objects (plans, add-ons) that belong to no customer.
    public let externalCustomerID: String

    public init(organizationID: String, externalCustomerID: String) {
        self.organizationID = organizationID
        self.externalCustomerID = externalCustomerID
    }

    /// Parses `<organization id>/<external customer id>`; the customer id may itself contain slashes.
    public init?(_ text: String) {
        guard let slash = text.firstIndex(of: "/") else { return nil }
        self.init(
            organizationID: String(text[..<slash]),
            externalCustomerID: String(text[text.index(after: slash)...])
        )
    }

    public var description: String { "\(organizationID)/\(externalCustomerID)" }
}
