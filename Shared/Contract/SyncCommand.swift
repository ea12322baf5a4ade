import Foundation

/// The systems commands are written to.
public enum TargetSystem: String, Sendable, Codable, CaseIterable {
    case salesforce
    case netsuite

    /// The command topic whose writer serves this system.
    public var commandTopic: String {
        switch self {
        case .salesforce: Topic.crmCommands
        case .netsuite: Topic.erpCommands
        }
    }
}

/// One record to write to Salesforce or NetSuite: the value of every message on `crm.commands` and
/// `erp.commands`. Transform builds it from a billing event and a mapping; the writer applies it.
///
/// Every write is an upsert keyed by an external ID derived from the billing ID, so applying a command
/// any number of times leaves one record.
public struct SyncCommand: Sendable, Codable, Hashable {
    /// Stable for the same billing event, connection and record: replays carry the same id.
    public var id: String
    /// The connection (credentials, mappings, budget) the command belongs to.
    public var connection: String
    public var system: TargetSystem
    /// Target object: a Salesforce sObject (`Account`) or a NetSuite record type (`invoice`).
    public var object: String
    /// Salesforce: the external-ID field the upsert matches on (`Billing_Id__c`). NetSuite: nil, the
    /// record's own `externalId` is used (`eid:`).
    public var externalIDField: String?
    public var externalID: String
    /// Salesforce: update this existing record by Id instead of upserting (a customer linked to an
    /// existing Account through `external_salesforce_id`).
    public var recordID: String?
    /// The target fields, already converted; references are resolved by the writer.
    public var fields: [String: JSONValue]
    /// Parent records this one points at. The writer writes parents first and holds a command back
    /// until its parents exist.
    public var references: [RecordReference]
    /// NetSuite: sublists whose lines replace the existing lines instead of merging with them.
    public var replaceSublists: [String]
    public var source: SourceDocument

    public init(
        id: String, connection: String, system: TargetSystem, object: String,
        externalIDField: String? = nil, externalID: String, recordID: String? = nil,
        fields: [String: JSONValue], references: [RecordReference] = [], replaceSublists: [String] = [],
        source: SourceDocument
    ) {
        self.id = id
        self.connection = connection
        self.system = system
        self.object = object
        self.externalIDField = externalIDField
        self.externalID = externalID
        self.recordID = recordID
        self.fields = fields
        self.references = references
        self.replaceSublists = replaceSublists
        self.source = source
    }

    enum CodingKeys: String, CodingKey {
        case id, connection, system, object
        case externalIDField = "external_id_field"
        case externalID = "external_id"
        case recordID = "record_id"
        case fields, references
        case replaceSublists = "replace_sublists"
        case source
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        connection = try container.decode(String.self, forKey: .connection)
        system = try container.decode(TargetSystem.self, forKey: .system)
        object = try container.decode(String.self, forKey: .object)
        externalIDField = try container.decodeIfPresent(String.self, forKey: .externalIDField)
        externalID = try container.decode(String.self, forKey: .externalID)
        recordID = try container.decodeIfPresent(String.self, forKey: .recordID)
        fields = try container.decode([String: JSONValue].self, forKey: .fields)
        references = try container.decodeIfPresent([RecordReference].self, forKey: .references) ?? []
        replaceSublists = try container.decodeIfPresent([String].self, forKey: .replaceSublists) ?? []
        source = try container.decode(SourceDocument.self, forKey: .source)
    }
}

/// A pointer from a command's record to a parent record, identified by the parent's external ID, or
/// by a match on its fields (Salesforce's standard price book).
public struct RecordReference: Sendable, Codable, Hashable {
    /// Where the resolved reference goes. Salesforce: the relationship name (`Account__r`) for
    /// external-ID references, the lookup field (`Pricebook2Id`) for matches. NetSuite: a dotted path
    /// into the fields (`entity`, `apply.items.0.doc`), which gets `{"id": <internal id>}`.
    public var path: String
    /// The parent's object or record type.
    public var object: String
    /// Salesforce: the parent's external-ID field.
    public var externalIDField: String?
    public var externalID: String?
    /// Salesforce: field values that identify the parent when it has no external ID.
    public var match: [String: JSONValue]?
    /// The field can be set when the record is created and never changed afterwards
    /// (PricebookEntry.Product2Id): the writer leaves it out when updating.
    public var createOnly: Bool

    public init(
        path: String, object: String, externalIDField: String? = nil, externalID: String? = nil,
        match: [String: JSONValue]? = nil, createOnly: Bool = false
    ) {
        self.path = path
        self.object = object
        self.externalIDField = externalIDField
        self.externalID = externalID
        self.match = match
        self.createOnly = createOnly
    }

    enum CodingKeys: String, CodingKey {
        case path, object
        case externalIDField = "external_id_field"
        case externalID = "external_id"
        case match
        case createOnly = "create_only"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        path = try container.decode(String.self, forKey: .path)
        object = try container.decode(String.self, forKey: .object)
        externalIDField = try container.decodeIfPresent(String.self, forKey: .externalIDField)
        externalID = try container.decodeIfPresent(String.self, forKey: .externalID)
        match = try container.decodeIfPresent([String: JSONValue].self, forKey: .match)
        createOnly = try container.decodeIfPresent(Bool.self, forKey: .createOnly) ?? false
    }
}

/// The billing document a command or result is about, for people reading results and alerts.
public struct SourceDocument: Sendable, Codable, Hashable {
    /// The `ce_id` of the billing event the command came from.
    public var eventID: String
    public var eventType: String
    /// `customer`, `invoice`, `credit_note`, …
    public var billingObject: String
    public var billingID: String
    /// The document number people know (invoice and credit note numbers), when there is one.
    public var documentNumber: String?
    /// The billing id of the customer the object belongs to; nil for objects of no customer (plans).
    public var customerID: String?

    public init(
        eventID: String, eventType: String, billingObject: String, billingID: String, documentNumber: String? = nil,
        customerID: String? = nil
    ) {
        self.eventID = eventID
        self.eventType = eventType
        self.billingObject = billingObject
        self.billingID = billingID
        self.documentNumber = documentNumber
        self.customerID = customerID
    }

    enum CodingKeys: String, CodingKey {
        case eventID = "event_id"
        case eventType = "event_type"
        case billingObject = "billing_object"
        case billingID = "billing_id"
        case documentNumber = "document_number"
        case customerID = "customer_id"
    }
}
