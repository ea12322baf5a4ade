import Foundation

/// The schema of a message value, by name and major version (docs/schemas/<name>.v<version>.schema.json).
/// Every message names it in the `ce_dataschema` header, CloudEvents' `dataschema` attribute, as
/// `urn:crossbill:schema:<name>:<version>`.
///
/// Compatibility rule: within a version, fields are only added, and consumers ignore fields they do not
/// know. A change that removes, renames or retypes a field is a new version; consumers handle the old
/// and the new side by side until no producer sends the old one.
public struct MessageSchema: Sendable, Hashable, CustomStringConvertible {
    public let name: String
    public let version: Int

    public init(name: String, version: Int) {
        self.name = name
        self.version = version
    }

    /// Parses `urn:crossbill:schema:<name>:<version>`.
    public init?(uri: String) {
        let prefix = "urn:crossbill:schema:"
        guard uri.hasPrefix(prefix) else { return nil }
        let rest = uri.dropFirst(prefix.count)
        guard let colon = rest.lastIndex(of: ":"), let version = Int(rest[rest.index(after: colon)...]), version > 0 else { return nil }
        self.init(name: String(rest[..<colon]), version: version)
    }

    public var uri: String { "urn:crossbill:schema:\(name):\(version)" }
    public var description: String { uri }

    /// A Lago webhook as it arrived: the value of `billing.events`.
    public static let billingEvent = MessageSchema(name: "billing-event", version: 1)
    /// A `SyncCommand`: the value of `crm.commands` and `erp.commands`.
    public static let syncCommand = MessageSchema(name: "sync-command", version: 1)
    /// A `SyncResult`: the value of `sync.results`.
    public static let syncResult = MessageSchema(name: "sync-result", version: 1)
    /// A provider error on `alerts.provider-errors` (Lago's `customer.*_provider_error` shape).
    public static let providerErrorEvent = MessageSchema(name: "provider-error-event", version: 1)
    /// A customer's first sync to a provider on `alerts.provider-errors` (`customer.*_provider_created`).
    public static let providerCreatedEvent = MessageSchema(name: "provider-created-event", version: 1)
}

/// Why a consumed message was refused: the failed result and the dead-letter record carry it.
public struct ContractViolation: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case messageTooLarge = "message_too_large"
        case unsupportedSchema = "unsupported_schema"
        case invalidJSON = "invalid_json"
        case invalidMessage = "invalid_message"
    }

    public let code: Code
    /// The offending field as a path into the value (`references[0].object`), or the header name.
    public let field: String?
    public let message: String

    public init(_ code: Code, field: String? = nil, message: String) {
        self.code = code
        self.field = field
        self.message = message
    }

    public var providerError: ProviderError {
        ProviderError(code: code.rawValue, message: message, fields: field.map { [$0] } ?? [], path: field)
    }

    public var description: String { "\(code.rawValue): \(message)" }
}

/// The checks every consumer makes before it uses a message: size, schema version, JSON, shape.
public enum MessageContract {
    /// The largest value a Crossbill topic carries: librdkafka's default `message.max.bytes`, below the
    /// brokers' default limit.
    public static let maximumValueBytes = 1_000_000

    /// Checks the value's size and the schema its `ce_dataschema` header names. A message without the
    /// header is taken as `expected` when `headerRequired` is false (billing events from other
    /// producers).
    public static func check(value: [UInt8], schemaHeader: String?, expected: MessageSchema, headerRequired: Bool) throws(ContractViolation) {
        guard value.count <= maximumValueBytes else {
            throw ContractViolation(.messageTooLarge, message: "the value has \(value.count) bytes; at most \(maximumValueBytes) are accepted")
        }
        guard let schemaHeader else {
            if headerRequired {
                throw ContractViolation(.unsupportedSchema, field: MessageHeader.dataSchema, message: "the \(MessageHeader.dataSchema) header is missing; expected \(expected.uri)")
            }
            return
        }
        guard let schema = MessageSchema(uri: schemaHeader), schema.name == expected.name else {
            throw ContractViolation(.unsupportedSchema, field: MessageHeader.dataSchema, message: "\(MessageHeader.dataSchema) \(schemaHeader) is not a \(expected.name) schema; expected \(expected.uri)")
        }
        guard schema.version == expected.version else {
            throw ContractViolation(.unsupportedSchema, field: MessageHeader.dataSchema, message: "\(expected.name) version \(schema.version) is not supported; this service reads version \(expected.version)")
        }
    }

    /// Checks the message and decodes its value, naming the offending field when the shape is wrong.
    public static func decode<Value: Decodable>(
        _ type: Value.Type, value: [UInt8], schemaHeader: String?, expected: MessageSchema
    ) throws(ContractViolation) -> Value {
        try check(value: value, schemaHeader: schemaHeader, expected: expected, headerRequired: true)
        do {
            return try JSONValueCoding.decode(Value.self, from: value)
        } catch let error as DecodingError {
            throw violation(error)
        } catch {
            throw ContractViolation(.invalidJSON, message: "the value is not JSON: \(error)")
        }
    }

    /// A required string that must not be empty.
    public static func requireText(_ text: String, field: String) throws(ContractViolation) {
        guard !text.isEmpty else { throw ContractViolation(.invalidMessage, field: field, message: "\(field) must not be empty") }
    }

    private static func violation(_ error: DecodingError) -> ContractViolation {
        switch error {
        case .keyNotFound(let key, let context):
            let field = path(context.codingPath + [key])
            return ContractViolation(.invalidMessage, field: field, message: "the required field \(field) is missing")
        case .typeMismatch(let type, let context):
            let field = path(context.codingPath)
            return ContractViolation(.invalidMessage, field: field.isEmpty ? nil : field, message: "\(field.isEmpty ? "the value" : field) is not \(typeName(type))")
        case .valueNotFound(let type, let context):
            let field = path(context.codingPath)
            return ContractViolation(.invalidMessage, field: field, message: "\(field) is null; expected \(typeName(type))")
        case .dataCorrupted(let context) where context.codingPath.isEmpty:
            return ContractViolation(.invalidJSON, message: "the value is not JSON: \(context.debugDescription)")
        case .dataCorrupted(let context):
            let field = path(context.codingPath)
            return ContractViolation(.invalidMessage, field: field, message: "\(field) has an invalid value: \(context.debugDescription)")
        @unknown default:
            return ContractViolation(.invalidMessage, message: "\(error)")
        }
    }

    /// `references[0].object` from a coding path.
    private static func path(_ keys: [any CodingKey]) -> String {
        keys.reduce(into: "") { path, key in
            if let index = key.intValue {
                path += "[\(index)]"
            } else {
                path += path.isEmpty ? key.stringValue : ".\(key.stringValue)"
            }
        }
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Bool.Type: "a boolean"
        case is Int.Type, is Double.Type, is Decimal.Type: "a number"
        case is [Any].Type: "an array"
        case is [String: Any].Type, is [String: JSONValue].Type: "an object"
        default: "a \(type)"
        }
    }
}
