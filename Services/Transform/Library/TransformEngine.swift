import Contract
import Crypto
import Foundation
import Kafka

/// A connection as transform sees it: where its commands go and how records are mapped.
public struct MappedConnection: Sendable {
    public let name: String
    public let system: TargetSystem
    /// Organizations whose events the connection takes; empty takes every organization.
    public let organizations: Set<String>
    public let mappings: MappingSet

    public init(name: String, system: TargetSystem, organizations: Set<String>, mappings: MappingSet) {
        self.name = name
        self.system = system
        self.organizations = organizations
        self.mappings = mappings
    }

    func serves(_ organization: String) -> Bool { organizations.isEmpty || organizations.contains(organization) }
}

/// What one billing event turns into.
enum TransformOutput: Sendable {
    case command(SyncCommand)
    case result(SyncResult)
    /// The event breaks the topic contract: a failed result, and the event on the dead-letter queue.
    case rejected(SyncResult)
}

/// Turns billing events into commands: reads the objects, drops stale versions, applies every
/// connection's mappings and suppresses commands whose content did not change. No I/O but the state
/// view; the caller produces the outputs and then stores the view's changes.
struct TransformEngine: Sendable {
    static let reporter = "transform"
    let connections: [MappedConnection]

    func transform(_ message: KafkaMessage, state: inout StateView) throws -> [TransformOutput] {
        let eventID = message.header(MessageHeader.id) ?? "\(message.topic)/\(message.partition)/\(message.offset)"
        let eventType = message.header(MessageHeader.type) ?? "unknown"
        let organization = message.keyString.flatMap(MessageKey.init)?.organizationID ?? ""
        func eventResult(_ outcome: SyncOutcome, kind: String = "unknown", id: String = "", reason: String, error: ProviderError? = nil) -> [TransformOutput] {
            [.result(SyncResult(
                outcome: outcome,
                source: SourceDocument(eventID: eventID, eventType: eventType, billingObject: kind, billingID: id),
                reason: reason, error: error, reporter: Self.reporter))]
        }
        func rejected(_ violation: ContractViolation) -> [TransformOutput] {
            [.rejected(SyncResult(
                outcome: .failed, source: SourceDocument(eventID: eventID, eventType: eventType, billingObject: "unknown", billingID: ""),
                reason: violation.code.rawValue, error: violation.providerError, reporter: Self.reporter))]
        }
        do throws(ContractViolation) {
            try MessageContract.check(
                value: message.value, schemaHeader: message.header(MessageHeader.dataSchema), expected: .billingEvent, headerRequired: false)
        } catch {
            return rejected(error)
        }
        guard let envelope = JSONValue.parse(message.value) else {
            return rejected(ContractViolation(.invalidJSON, message: "the event is not JSON"))
        }
        let objects: [BillingObject]
        do {
            guard let found = try BillingObjects.read(envelope) else {
                return eventResult(.skipped, kind: envelope["object_type"]?.stringValue ?? "unknown", reason: "unsupported_event")
            }
            objects = found
        } catch {
            return rejected(ContractViolation(.invalidMessage, field: error.field, message: error.reason))
        }
        guard !organization.isEmpty else {
            return rejected(ContractViolation(.invalidMessage, field: "key", message: "the message key names no organization: expected <organization id>/<external customer id>"))
        }
        let connections = connections.filter { $0.serves(organization) }
        guard !connections.isEmpty, let primary = objects.last(where: \.primary) else {
            return eventResult(.skipped, kind: objects.last?.kind ?? "unknown", reason: "no_connection")
        }

        var outputs: [TransformOutput] = []
        for object in objects {
            let key = EntityKey(organization: organization, kind: object.kind, billingID: object.billingID)
            if let applied = try state.version(of: key), object.version.isOlder(than: applied) {
                if object.primary {
                    outputs += eventResult(.skipped, kind: object.kind, id: object.billingID, reason: "stale_version")
                }
                continue
            }
            if !object.version.parts.isEmpty { state.setVersion(object.version, of: key) }
            let source = SourceDocument(
                eventID: eventID, eventType: eventType, billingObject: object.kind, billingID: object.billingID, customerID: object.customerID)
            for connection in connections {
                for mapping in connection.mappings.mappings(for: object.kind) {
                    outputs += try apply(mapping, to: object, connection: connection, source: source, state: &state)
                }
            }
        }
        if outputs.isEmpty {
            outputs += eventResult(.skipped, kind: primary.kind, id: primary.billingID, reason: "no_mapping")
        }
        return outputs
    }

    /// One mapping of one object for one connection: a command, or a result saying why there is none.
    /// Only the event's own object reports `skipped` and `unchanged`; its parents are written only when
    /// they changed and stay quiet otherwise.
    private func apply(
        _ mapping: ObjectMapping, to object: BillingObject, connection: MappedConnection, source: SourceDocument,
        state: inout StateView
    ) throws -> [TransformOutput] {
        var source = source
        func result(_ outcome: SyncOutcome, reason: String? = nil, error: ProviderError? = nil) -> TransformOutput {
            .result(SyncResult(
                outcome: outcome, connection: connection.name, system: connection.system, object: mapping.target,
                source: source, reason: reason, error: error, reporter: Self.reporter))
        }
        switch RecordMapper(mapping: mapping, items: connection.mappings.items).map(object.body) {
        case .filtered(let why):
            return object.primary ? [result(.skipped, reason: "filtered: \(why)")] : []
        case .failed(let error):
            return [result(.failed, reason: "invalid_mapping", error: error)]
        case .record(let record):
            source.documentNumber = record.documentNumber
            let command = SyncCommand(
                id: Self.commandID(eventID: source.eventID, connection: connection.name, mapping: mapping.name, externalID: record.externalID),
                connection: connection.name, system: connection.system, object: mapping.target,
                externalIDField: mapping.externalIDField, externalID: record.externalID, recordID: record.recordID,
                fields: record.fields, references: record.references, replaceSublists: record.replaceSublists,
                source: source)
            let contentKey = ContentKey(connection: connection.name, mapping: mapping.name, externalID: record.externalID)
            let hash = Self.contentHash(of: command)
            if try state.contentHash(of: contentKey) == hash {
                return object.primary ? [result(.unchanged)] : []
            }
            state.setContentHash(hash, of: contentKey)
            return [.command(command)]
        }
    }

    /// Stable for one event, connection, mapping and record, so a replayed event yields the same ids.
    static func commandID(eventID: String, connection: String, mapping: String, externalID: String) -> String {
        digest("\(eventID)\u{1F}\(connection)\u{1F}\(mapping)\u{1F}\(externalID)")
    }

    /// A hash of everything the command would write (not its id or source): equal hashes mean the
    /// write would change nothing. Read field by field, with fields and matches in key order.
    static func contentHash(of command: SyncCommand) -> String {
        var content: [UInt8] = []
        func add(_ text: String?) {
            content += Array((text ?? "\u{0}").utf8)
            content.append(0x1F)
        }
        add(command.connection)
        add(command.system.rawValue)
        add(command.object)
        add(command.externalIDField)
        add(command.externalID)
        add(command.recordID)
        JSONValue.object(command.fields).write(into: &content)
        for reference in command.references {
            content.append(0x1E)
            add(reference.path)
            add(reference.object)
            add(reference.externalIDField)
            add(reference.externalID)
            reference.match.map(JSONValue.object)?.write(into: &content)
            add(reference.createOnly ? "create-only" : "")
        }
        content.append(0x1E)
        for sublist in command.replaceSublists { add(sublist) }
        return hex(SHA256.hash(data: content).prefix(16))
    }

    private static func digest(_ text: String) -> String {
        hex(SHA256.hash(data: Data(text.utf8)).prefix(16))
    }

    private static func hex(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        for byte in bytes { text += [digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]] }
        return String(decoding: text, as: UTF8.self)
    }
}
