import Contract
import Foundation
import SandboxCore
import Synchronization

/// A record's fields by canonical name.
public typealias SObjectRecord = [String: FieldValue]

/// The org's data and the rules Salesforce applies when records are written. Every call runs inside
/// one `transaction`, so a multi-record call sees and leaves a consistent state, and an all-or-none
/// call can be rolled back.
public final class SalesforceOrg: Sendable {
    public let schema: SalesforceSchema
    private let state: Mutex<OrgState>

    public init(schema: SalesforceSchema) {
        self.schema = schema
        state = Mutex(OrgState(schema: schema))
    }

    /// Runs `body` with exclusive access to the data.
    public func transaction<T: Sendable>(_ body: (inout OrgState) -> T) -> T {
        state.withLock { body(&$0) }
    }

    public func reset() {
        state.withLock { $0 = OrgState(schema: schema) }
    }
}

/// The data of the org; its methods apply Salesforce's validation and domain rules.
public struct OrgState: ~Copyable {
    let schema: SalesforceSchema
    private var records: [String: [String: SObjectRecord]] = [:]
    /// Values of external-ID and unique fields: object → field → key → ids.
    private var indexes: [String: [String: [String: Set<String>]]] = [:]
    private var deleted: Set<String> = []
    private var sequence = 0
    /// Set while an all-or-none unit runs: how to put back what it changed.
    private var undoLog: [(object: String, id: String, previous: SObjectRecord?)]?
    public private(set) var standardPricebookId = ""

    init(schema: SalesforceSchema) {
        self.schema = schema
        standardPricebookId = nextId(for: "Pricebook2")
        let now = Date()
        store(
            "Pricebook2", standardPricebookId,
            [
                "Id": .string(standardPricebookId), "Name": .string(schema.standardPricebookName),
                "IsActive": .boolean(true), "IsStandard": .boolean(true), "IsDeleted": .boolean(false),
                "CurrencyIsoCode": .string(schema.defaultCurrency), "Description": .null,
                "CreatedDate": .dateTime(now), "LastModifiedDate": .dateTime(now), "SystemModstamp": .dateTime(now),
            ])
    }

    // MARK: Reading

    public func object(ofId id: String) -> ObjectSchema? {
        schema.object(keyPrefix: String(id.prefix(3)))
    }

    public func record(_ id: String) -> SObjectRecord? {
        guard let object = object(ofId: id) else { return nil }
        return records[object.name]?[id]
    }

    public func isDeleted(_ id: String) -> Bool { deleted.contains(id) }

    public func allRecords(of object: String) -> [SObjectRecord] {
        (records[object] ?? [:]).sorted { $0.key < $1.key }.map(\.value)
    }

    public func counts() -> [String: Int] {
        records.filter { !$0.value.isEmpty }.mapValues(\.count)
    }

    /// Ids whose `field` holds `value` (case-insensitively unless the field is case-sensitive).
    public func ids(of object: ObjectSchema, where field: FieldSchema, equals value: FieldValue) -> [String] {
        if field.name == "Id" {
            guard case .string(let text) = value, let id = SalesforceIds.canonical(text), records[object.name]?[id] != nil else {
                return []
            }
            return [id]
        }
        guard let key = field.key(of: value) else { return [] }
        if let index = indexes[object.name]?[field.name] {
            return (index[key] ?? []).sorted()
        }
        return (records[object.name] ?? [:]).filter { $0.value[field.name].flatMap(field.key(of:)) == key }.map(\.key).sorted()
    }

    // MARK: Writing

    public mutating func create(_ object: ObjectSchema, fields input: [String: JSONValue]) throws(SalesforceError) -> String {
        if input.keys.contains(where: { $0.lowercased() == "id" }) {
            throw SalesforceError("INVALID_FIELD", "cannot specify Id in an insert call", fields: ["Id"])
        }
        let changes = try convert(input, for: object, creating: true)
        let id = nextId(for: object.name)
        var record: SObjectRecord = [:]
        for field in object.fields {
            record[field.name] = field.defaultValue ?? .null
        }
        record.merge(changes) { _, new in new }
        let now = Date()
        record["Id"] = .string(id)
        record["IsDeleted"] = .boolean(false)
        record["CreatedDate"] = .dateTime(now)
        try finish(object, id: id, record: &record, changes: changes, existing: nil, now: now)
        return id
    }

    public mutating func update(_ object: ObjectSchema, id: String, fields input: [String: JSONValue]) throws(SalesforceError) {
        guard let existing = records[object.name]?[id] else {
            if deleted.contains(id) { throw SalesforceError("ENTITY_IS_DELETED", "entity is deleted", status: 404) }
            throw SalesforceError.notFound
        }
        var input = input
        if let key = input.keys.first(where: { $0.lowercased() == "id" }) {
            // The record's own Id may be repeated in the body; any other is a conflict.
            guard input[key]?.stringValue.flatMap(SalesforceIds.canonical) == id else {
                throw SalesforceError(
                    "INVALID_FIELD_FOR_INSERT_UPDATE", "Unable to create/update fields: Id. Please check the security settings of this field and verify that it is read/write for your profile or permission set.",
                    fields: ["Id"])
            }
            input[key] = nil
        }
        let changes = try convert(input, for: object, creating: false)
        var record = existing.merging(changes) { _, new in new }
        try finish(object, id: id, record: &record, changes: changes, existing: existing, now: Date())
    }

    /// Creates or updates the record whose external-ID `field` is `value`.
    public mutating func upsert(
        _ object: ObjectSchema, field: FieldSchema, value: String, fields input: [String: JSONValue]
    ) throws(SalesforceError) -> (id: String, created: Bool) {
        var input = input
        // The body may repeat the matching value; any other value for the field is a conflict.
        if let key = input.keys.first(where: { $0.lowercased() == field.name.lowercased() }) {
            let repeated = try SalesforceValues.convert(input[key] ?? .null, for: field)
            guard field.key(of: repeated) == field.key(of: .string(value)) else {
                throw SalesforceError(
                    "INVALID_FIELD", "The value of \(field.name) in the body does not match the value in the URL", fields: [field.name])
            }
            input[key] = nil
        }
        if input.keys.contains(where: { $0.lowercased() == "id" }) && field.name != "Id" {
            throw SalesforceError(
                "INVALID_FIELD_FOR_INSERT_UPDATE", "Unable to create/update fields: Id. Please check the security settings of this field and verify that it is read/write for your profile or permission set.",
                fields: ["Id"])
        }
        let matches = ids(of: object, where: field, equals: .string(value))
        switch matches.count {
        case 0:
            guard field.name != "Id" else { throw SalesforceError.notFound }
            input[field.name] = .string(value)
            return (try create(object, fields: input), true)
        case 1:
            try update(object, id: matches[0], fields: input)
            return (matches[0], false)
        default:
            throw SalesforceError(
                "MULTIPLE_CHOICES", matches.map { "/sobjects/\(object.name)/\($0)" }.joined(separator: ","), status: 300)
        }
    }

    public mutating func delete(_ id: String) throws(SalesforceError) {
        guard let object = object(ofId: id), records[object.name]?[id] != nil else {
            if deleted.contains(id) { throw SalesforceError("ENTITY_IS_DELETED", "entity is deleted", status: 404) }
            throw SalesforceError.notFound
        }
        if object.name == "Pricebook2", id == standardPricebookId {
            throw SalesforceError("STANDARD_PRICE_NOT_DEFINED", "The standard price book cannot be deleted")
        }
        let opportunityOfLine = object.name == "OpportunityLineItem" ? records[object.name]?[id]?["OpportunityId"] : nil
        store(object.name, id, nil)
        deleted.insert(id)
        // Children in a master-detail relationship go with their parent; lookups to it are cleared.
        for child in schema.objects {
            for field in child.fields where field.type == .reference && field.referenceTo == object.name {
                for (childId, childRecord) in records[child.name] ?? [:] where childRecord[field.name] == .string(id) {
                    if field.masterDetail {
                        try delete(childId)
                    } else {
                        var cleared = childRecord
                        cleared[field.name] = .null
                        store(child.name, childId, cleared)
                    }
                }
            }
        }
        if case .string(let opportunity)? = opportunityOfLine {
            recomputeAmount(ofOpportunity: opportunity)
        }
    }

    // MARK: All or none

    /// Runs `body`; if it throws, every change it made is undone. Units nest: an inner failure undoes
    /// only the inner unit's changes, an outer failure undoes everything.
    public mutating func atomically<T, Failure: Error>(_ body: (inout OrgState) throws(Failure) -> T) throws(Failure) -> T {
        let outermost = undoLog == nil
        let mark = undoLog?.count ?? 0
        if outermost { undoLog = [] }
        defer { if outermost { undoLog = nil } }
        do {
            return try body(&self)
        } catch {
            rollBack(to: mark)
            throw error
        }
    }

    /// Undoes the changes logged after `mark`, newest first.
    private mutating func rollBack(to mark: Int) {
        while let log = undoLog, log.count > mark, let entry = undoLog?.removeLast() {
            store(entry.object, entry.id, entry.previous)
            undoLog?.removeLast()  // the entry `store` just logged for the undo itself
            if entry.previous != nil { deleted.remove(entry.id) }
        }
    }

    // MARK: Rules

    private mutating func nextId(for object: String) -> String {
        sequence += 1
        return SalesforceIds.make(keyPrefix: schema.object(named: object)?.keyPrefix ?? "000", sequence: sequence)
    }

    /// The body's fields as stored values, with relationship references resolved.
    private func convert(_ input: [String: JSONValue], for object: ObjectSchema, creating: Bool) throws(SalesforceError) -> SObjectRecord {
        var changes: SObjectRecord = [:]
        for (key, value) in input.sorted(by: { $0.key < $1.key }) where key != "attributes" {
            if let field = object.field(named: key) {
                if field.readOnly || (!creating && field.createOnly) {
                    throw SalesforceError(
                        "INVALID_FIELD_FOR_INSERT_UPDATE",
                        "Unable to create/update fields: \(field.name). Please check the security settings of this field and verify that it is read/write for your profile or permission set.",
                        fields: [field.name])
                }
                changes[field.name] = try check(SalesforceValues.convert(value, for: field), for: field, object: object)
            } else if let reference = object.reference(relationship: key), case .object(let nested) = value {
                if !creating && reference.createOnly {
                    throw SalesforceError(
                        "INVALID_FIELD_FOR_INSERT_UPDATE",
                        "Unable to create/update fields: \(reference.name). Please check the security settings of this field and verify that it is read/write for your profile or permission set.",
                        fields: [reference.name])
                }
                changes[reference.name] = .string(try resolveForeignKey(reference, nested))
            } else {
                throw SalesforceError.invalidField(key, object: object.name)
            }
        }
        return changes
    }

    /// Length, picklist, e-mail and reference checks of one value.
    private func check(_ value: FieldValue, for field: FieldSchema, object: ObjectSchema) throws(SalesforceError) -> FieldValue {
        guard case .string(let text) = value else { return value }
        if let length = field.length, text.count > length {
            throw SalesforceError(
                "STRING_TOO_LONG", "\(field.name): data value too large: \(text.prefix(length + 20)) (max length=\(length))", fields: [field.name])
        }
        switch field.type {
        case .picklist where field.restricted && !(field.picklist ?? []).contains(text):
            throw SalesforceError(
                "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", "\(field.name): bad value for restricted picklist field: \(text)", fields: [field.name])
        case .email where !Self.looksLikeEmail(text):
            throw SalesforceError("INVALID_EMAIL_ADDRESS", "\(field.name): invalid email address: \(text)", fields: [field.name])
        case .reference:
            return .string(try resolveId(text, for: field))
        default:
            return value
        }
    }

    private func resolveId(_ text: String, for field: FieldSchema) throws(SalesforceError) -> String {
        let target = field.referenceTo ?? ""
        guard let id = SalesforceIds.canonical(text), schema.object(keyPrefix: String(id.prefix(3)))?.name == target else {
            throw SalesforceError("MALFORMED_ID", "\(target) ID: id value of incorrect type: \(text)", fields: [field.name])
        }
        if deleted.contains(id) { throw SalesforceError("ENTITY_IS_DELETED", "entity is deleted", fields: [field.name]) }
        guard records[target]?[id] != nil else {
            throw SalesforceError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", fields: [field.name])
        }
        return id
    }

    /// `"Account": {"Billing_Id__c": "cus_1"}`: the parent found by one of its external-ID fields.
    private func resolveForeignKey(_ reference: FieldSchema, _ nested: [String: JSONValue]) throws(SalesforceError) -> String {
        let target = schema.object(named: reference.referenceTo ?? "")
        let keys = nested.filter { $0.key != "attributes" }
        guard let target, keys.count == 1, let (name, value) = keys.first else {
            throw SalesforceError(
                "INVALID_FIELD", "A relationship reference must name exactly one external ID field of \(reference.referenceTo ?? "its object")")
        }
        guard let field = target.field(named: name), field.externalId else {
            throw SalesforceError("INVALID_FIELD", "Field name provided, \(name) is not an External ID or indexed field for \(target.name)")
        }
        let text: String
        switch value {
        case .string(let string): text = string
        case .number(let number): text = "\(number)"
        default: throw SalesforceError("INVALID_FIELD", "Foreign key external ID for \(field.name) must be a string")
        }
        let matches = ids(of: target, where: field, equals: .string(text))
        switch matches.count {
        case 1: return matches[0]
        case 0: throw SalesforceError("INVALID_FIELD", "Foreign key external ID: \(text) not found for field \(field.name) in entity \(target.name)")
        default:
            throw SalesforceError("DUPLICATE_EXTERNAL_ID", "Foreign key external ID: \(text) matched more than 1 record for field \(field.name) in entity \(target.name)")
        }
    }

    /// Required fields, object rules, uniqueness and validation rules; then stores the record.
    private mutating func finish(
        _ object: ObjectSchema, id: String, record: inout SObjectRecord, changes: SObjectRecord, existing: SObjectRecord?, now: Date
    ) throws(SalesforceError) {
        try applyObjectRules(object, id: id, record: &record, changes: changes, existing: existing)
        let missing = object.fields.filter { $0.required && (record[$0.name] ?? .null) == .null }.map(\.name)
        if !missing.isEmpty {
            throw SalesforceError("REQUIRED_FIELD_MISSING", "Required fields are missing: [\(missing.joined(separator: ", "))]", fields: missing)
        }
        for field in object.fields where field.unique {
            if let value = record[field.name], let other = ids(of: object, where: field, equals: value).first(where: { $0 != id }) {
                throw SalesforceError("DUPLICATE_VALUE", "duplicate value found: \(field.name) duplicates value on record with id: \(other)")
            }
        }
        for rule in object.validationRules {
            if case .string(let text)? = record[rule.field], text.range(of: rule.rejects, options: .regularExpression) != nil {
                throw SalesforceError("FIELD_CUSTOM_VALIDATION_EXCEPTION", rule.message, fields: [rule.field])
            }
        }
        record["LastModifiedDate"] = .dateTime(now)
        record["SystemModstamp"] = .dateTime(now)
        store(object.name, id, record)
        if object.name == "OpportunityLineItem", case .string(let opportunity)? = record["OpportunityId"] {
            recomputeAmount(ofOpportunity: opportunity)
        }
    }

    private mutating func applyObjectRules(
        _ object: ObjectSchema, id: String, record: inout SObjectRecord, changes: SObjectRecord, existing: SObjectRecord?
    ) throws(SalesforceError) {
        switch object.name {
        case "Opportunity":
            // IsWon and IsClosed follow the stage's row in the stage table, never the label.
            if case .string(let stageName)? = record["StageName"], let stage = schema.stage(named: stageName) {
                record["IsWon"] = .boolean(stage.isWon)
                record["IsClosed"] = .boolean(stage.isClosed)
            }
            // With line items the amount is their sum; writes to it are ignored without an error.
            if existing != nil, changes["Amount"] != nil, hasLineItems(opportunity: id) {
                record["Amount"] = existing?["Amount"] ?? .null
            }
        case "OpportunityLineItem":
            try applyLineItemRules(record: &record, changes: changes, creating: existing == nil)
        case "PricebookEntry" where existing == nil:
            try applyPriceBookEntryRules(record: &record)
        default:
            break
        }
    }

    private func hasLineItems(opportunity id: String) -> Bool {
        (records["OpportunityLineItem"] ?? [:]).values.contains { $0["OpportunityId"] == .string(id) }
    }

    private mutating func applyLineItemRules(record: inout SObjectRecord, changes: SObjectRecord, creating: Bool) throws(SalesforceError) {
        let unitPrice = record["UnitPrice"] ?? .null
        let totalPrice = record["TotalPrice"] ?? .null
        if creating {
            guard case .string(let entryId)? = record["PricebookEntryId"], let entry = records["PricebookEntry"]?[entryId],
                case .string(let opportunityId)? = record["OpportunityId"], var opportunity = records["Opportunity"]?[opportunityId]
            else { return }  // the required-field check reports what is missing
            if unitPrice != .null && totalPrice != .null {
                throw SalesforceError(
                    "FIELD_INTEGRITY_EXCEPTION", "field integrity exception: TotalPrice (cannot specify both unit price and total price)",
                    fields: ["TotalPrice"])
            }
            if unitPrice == .null && totalPrice == .null {
                throw SalesforceError(
                    "FIELD_INTEGRITY_EXCEPTION", "field integrity exception: unknown (must specify either unit price or total price)")
            }
            let entryBook = entry["Pricebook2Id"] ?? .null
            switch opportunity["Pricebook2Id"] ?? .null {
            case .null:
                opportunity["Pricebook2Id"] = entryBook
                store("Opportunity", opportunityId, opportunity)
            case entryBook:
                break
            default:
                throw SalesforceError(
                    "FIELD_INTEGRITY_EXCEPTION",
                    "field integrity exception: PricebookEntryId (pricebook entry is in a different pricebook than the one assigned to the opportunity)",
                    fields: ["PricebookEntryId"])
            }
            guard entry["CurrencyIsoCode"] == record["CurrencyIsoCode"] || changes["CurrencyIsoCode"] == nil else {
                throw SalesforceError(
                    "FIELD_INTEGRITY_EXCEPTION",
                    "field integrity exception: PricebookEntryId (pricebook entry currency code does not match opportunity currency code)",
                    fields: ["PricebookEntryId"])
            }
            record["CurrencyIsoCode"] = entry["CurrencyIsoCode"] ?? record["CurrencyIsoCode"]
            record["Product2Id"] = entry["Product2Id"] ?? .null
            record["ListPrice"] = entry["UnitPrice"] ?? .null
        } else if changes["UnitPrice"] != nil && changes["TotalPrice"] != nil {
            throw SalesforceError(
                "FIELD_INTEGRITY_EXCEPTION", "field integrity exception: TotalPrice (cannot specify both unit price and total price)",
                fields: ["TotalPrice"])
        }
        // TotalPrice = Quantity × UnitPrice, whichever of the two prices was given.
        guard case .number(let quantity)? = record["Quantity"], quantity != 0 else { return }
        if changes["TotalPrice"] != nil, case .number(let total) = record["TotalPrice"] ?? .null {
            record["UnitPrice"] = .number(total / quantity)
        } else if case .number(let unit) = record["UnitPrice"] ?? .null {
            record["TotalPrice"] = .number(unit * quantity)
        }
    }

    private func applyPriceBookEntryRules(record: inout SObjectRecord) throws(SalesforceError) {
        guard case .string(let productId)? = record["Product2Id"], let product = records["Product2"]?[productId],
            case .string(let bookId)? = record["Pricebook2Id"]
        else { return }
        let currency = record["CurrencyIsoCode"] ?? .null
        let entries = (records["PricebookEntry"] ?? [:]).values.filter {
            $0["Product2Id"] == .string(productId) && $0["CurrencyIsoCode"] == currency
        }
        if entries.contains(where: { $0["Pricebook2Id"] == .string(bookId) }) {
            throw SalesforceError("DUPLICATE_VALUE", "This price definition already exists in this price book")
        }
        if bookId != standardPricebookId, !entries.contains(where: { $0["Pricebook2Id"] == .string(standardPricebookId) }) {
            throw SalesforceError("STANDARD_PRICE_NOT_DEFINED", "No standard price defined for this product")
        }
        record["Name"] = product["Name"] ?? .null
        record["ProductCode"] = product["ProductCode"] ?? .null
    }

    private mutating func recomputeAmount(ofOpportunity id: String) {
        guard var opportunity = records["Opportunity"]?[id] else { return }
        let lines = (records["OpportunityLineItem"] ?? [:]).values.filter { $0["OpportunityId"] == .string(id) }
        guard !lines.isEmpty else { return }
        let total = lines.reduce(Decimal(0)) { sum, line in
            if case .number(let price)? = line["TotalPrice"] { return sum + price }
            return sum
        }
        opportunity["Amount"] = .number(total)
        store("Opportunity", id, opportunity)
    }

    /// The one place records change: keeps the indexes and the undo log in step.
    private mutating func store(_ object: String, _ id: String, _ record: SObjectRecord?) {
        let previous = records[object]?[id]
        undoLog?.append((object, id, previous))
        if let schemaObject = schema.object(named: object) {
            for field in schemaObject.fields where field.externalId || field.unique {
                if let key = previous?[field.name].flatMap(field.key(of:)) {
                    indexes[object, default: [:]][field.name, default: [:]][key]?.remove(id)
                }
                if let key = record?[field.name].flatMap(field.key(of:)) {
                    indexes[object, default: [:]][field.name, default: [:]][key, default: []].insert(id)
                }
            }
        }
        records[object, default: [:]][id] = record
    }

    private static func looksLikeEmail(_ text: String) -> Bool {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        return parts.count == 2 && !parts[0].isEmpty && parts[1].contains(".") && !text.contains(" ")
    }
}
