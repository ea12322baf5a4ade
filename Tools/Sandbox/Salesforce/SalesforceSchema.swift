import Contract
import Foundation
import SandboxCore

/// The sandbox org's objects, read from a data file (`Resources/salesforce-objects.json` unless the
/// configuration names another), so users can add the custom fields their mappings write.
public struct SalesforceSchema: Sendable {
    public let objects: [ObjectSchema]
    public let stages: [OpportunityStage]
    public let currencies: [String]
    public let defaultCurrency: String
    public let standardPricebookName: String
    private let objectsByName: [String: ObjectSchema]
    private let objectsByKeyPrefix: [String: ObjectSchema]

    public func object(named name: String) -> ObjectSchema? { objectsByName[name.lowercased()] }
    public func object(keyPrefix: String) -> ObjectSchema? { objectsByKeyPrefix[keyPrefix] }
    public func stage(named name: String) -> OpportunityStage? { stages.first { $0.name == name } }

    /// The schema shipped with the sandbox.
    public static func bundled() throws -> SalesforceSchema {
        guard let url = Bundle.module.url(forResource: "salesforce-objects", withExtension: "json") else {
            throw SchemaError(file: "salesforce-objects.json", problem: "not found in the sandbox's resources")
        }
        return try load(from: url)
    }

    public static func load(from url: URL) throws -> SalesforceSchema {
        let file = url.lastPathComponent
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw SchemaError(file: url.path, problem: "cannot be read: \(error.localizedDescription)")
        }
        let document: SchemaDocument
        do {
            document = try JSONDecoder().decode(SchemaDocument.self, from: data)
        } catch {
            throw SchemaError(file: file, problem: SandboxServer.describe(error))
        }
        return try SalesforceSchema(document: document, file: file)
    }

    private init(document: SchemaDocument, file: String) throws {
        func fail(_ problem: String) -> SchemaError { SchemaError(file: file, problem: problem) }
        guard document.currencies.contains(document.defaultCurrency) else {
            throw fail("defaultCurrency \(document.defaultCurrency) is not in currencies")
        }
        let declaredNames = Set(document.objects.map { $0.name.lowercased() })
        var objects: [ObjectSchema] = []
        var prefixes: Set<String> = []
        for object in document.objects {
            guard object.keyPrefix.count == 3, object.keyPrefix.allSatisfy({ $0.isLetter || $0.isNumber }) else {
                throw fail("object \(object.name): keyPrefix must be 3 letters or digits, not \(object.keyPrefix)")
            }
            guard prefixes.insert(object.keyPrefix).inserted else {
                throw fail("object \(object.name): keyPrefix \(object.keyPrefix) is used twice")
            }
            var fields = SalesforceSchema.systemFields(currencies: document.currencies, defaultCurrency: document.defaultCurrency)
            for declared in object.fields {
                let where_ = "object \(object.name) field \(declared.name)"
                guard !fields.contains(where: { $0.name.lowercased() == declared.name.lowercased() }) else {
                    throw fail("\(where_): declared twice (or clashes with a system field)")
                }
                if declared.type.isText && (declared.length ?? 0) <= 0 {
                    throw fail("\(where_): a \(declared.type.rawValue) field needs a positive length")
                }
                if declared.type == .reference {
                    guard let target = declared.referenceTo, declaredNames.contains(target.lowercased()) else {
                        throw fail("\(where_): referenceTo \(declared.referenceTo ?? "(missing)") is not an object of this file")
                    }
                    guard declared.relationshipName != nil else { throw fail("\(where_): a reference needs a relationshipName") }
                }
                var picklist = declared.picklist
                if let source = declared.picklistFrom {
                    guard source == "opportunityStages" else { throw fail("\(where_): picklistFrom can only be opportunityStages") }
                    picklist = document.opportunityStages.map(\.name)
                }
                if declared.type == .picklist && (picklist ?? []).isEmpty {
                    throw fail("\(where_): a picklist needs values")
                }
                var defaultValue: FieldValue?
                if let value = declared.default {
                    switch (declared.type, value) {
                    case (.boolean, .bool(let flag)): defaultValue = .boolean(flag)
                    case (.picklist, .string(let text)) where picklist?.contains(text) == true: defaultValue = .string(text)
                    default: throw fail("\(where_): default \(value) does not fit a \(declared.type.rawValue) field")
                    }
                }
                fields.append(
                    FieldSchema(
                        name: declared.name, type: declared.type, length: declared.length,
                        required: declared.required ?? false, externalId: declared.externalId ?? false,
                        unique: declared.unique ?? false, caseSensitive: declared.caseSensitive ?? false,
                        picklist: picklist, restricted: declared.restricted ?? false, defaultValue: defaultValue,
                        referenceTo: declared.referenceTo, relationshipName: declared.relationshipName,
                        readOnly: declared.readOnly ?? false, createOnly: declared.createOnly ?? false,
                        masterDetail: declared.masterDetail ?? false
                    ))
            }
            var rules: [ValidationRule] = []
            for rule in object.validationRules ?? [] {
                guard fields.contains(where: { $0.name == rule.field }) else {
                    throw fail("object \(object.name): validation rule on unknown field \(rule.field)")
                }
                guard let pattern = try? NSRegularExpression(pattern: rule.rejectsPattern) else {
                    throw fail("object \(object.name): validation rule pattern \(rule.rejectsPattern) is not a regular expression")
                }
                rules.append(ValidationRule(field: rule.field, rejects: pattern.pattern, message: rule.message))
            }
            objects.append(ObjectSchema(name: object.name, keyPrefix: object.keyPrefix, fields: fields, validationRules: rules))
        }
        // Objects the sandbox's own rules rely on.
        for required in ["Account", "Opportunity", "OpportunityLineItem", "Pricebook2", "PricebookEntry", "Product2", "Quote"] {
            guard declaredNames.contains(required.lowercased()) else { throw fail("object \(required) is missing") }
        }
        self.objects = objects
        stages = document.opportunityStages
        currencies = document.currencies
        defaultCurrency = document.defaultCurrency
        standardPricebookName = document.standardPricebook.name
        objectsByName = Dictionary(objects.map { ($0.name.lowercased(), $0) }, uniquingKeysWith: { first, _ in first })
        objectsByKeyPrefix = Dictionary(objects.map { ($0.keyPrefix, $0) }, uniquingKeysWith: { first, _ in first })
    }

    private static func systemFields(currencies: [String], defaultCurrency: String) -> [FieldSchema] {
        func system(_ name: String, _ type: FieldType) -> FieldSchema {
            FieldSchema(name: name, type: type, readOnly: true)
        }
        return [
            system("Id", .id),
            system("IsDeleted", .boolean),
            system("CreatedDate", .datetime),
            system("LastModifiedDate", .datetime),
            system("SystemModstamp", .datetime),
            FieldSchema(
                name: "CurrencyIsoCode", type: .picklist, length: 3, picklist: currencies, restricted: true,
                defaultValue: .string(defaultCurrency)),
        ]
    }
}

public struct OpportunityStage: Sendable, Codable {
    public let name: String
    public let isClosed: Bool
    public let isWon: Bool
}

public struct ObjectSchema: Sendable {
    public let name: String
    public let keyPrefix: String
    /// In declaration order, system fields first.
    public let fields: [FieldSchema]
    public let validationRules: [ValidationRule]
    private let fieldsByName: [String: FieldSchema]
    private let referencesByRelationship: [String: FieldSchema]

    init(name: String, keyPrefix: String, fields: [FieldSchema], validationRules: [ValidationRule]) {
        self.name = name
        self.keyPrefix = keyPrefix
        self.fields = fields
        self.validationRules = validationRules
        fieldsByName = Dictionary(fields.map { ($0.name.lowercased(), $0) }, uniquingKeysWith: { first, _ in first })
        referencesByRelationship = Dictionary(
            fields.compactMap { field in field.relationshipName.map { ($0.lowercased(), field) } },
            uniquingKeysWith: { first, _ in first })
    }

    /// Field names match case-insensitively, as in Salesforce.
    public func field(named name: String) -> FieldSchema? { fieldsByName[name.lowercased()] }
    /// The reference field behind a relationship name (`Account` for `AccountId`, `Account__r` for `Account__c`).
    public func reference(relationship name: String) -> FieldSchema? { referencesByRelationship[name.lowercased()] }
    /// Fields an upsert can match on: external-ID fields, and Id.
    public var externalIdFields: [FieldSchema] { fields.filter(\.externalId) }
}

public struct FieldSchema: Sendable {
    public let name: String
    public let type: FieldType
    public var length: Int?
    public var required = false
    public var externalId = false
    public var unique = false
    public var caseSensitive = false
    public var picklist: [String]?
    public var restricted = false
    public var defaultValue: FieldValue?
    public var referenceTo: String?
    public var relationshipName: String?
    /// System and formula fields: never written by API calls.
    public var readOnly = false
    /// Written on create only (e.g. a PricebookEntry's product).
    public var createOnly = false
    /// Deleting the parent deletes this record; otherwise the reference is cleared.
    public var masterDetail = false

    init(
        name: String, type: FieldType, length: Int? = nil, required: Bool = false, externalId: Bool = false,
        unique: Bool = false, caseSensitive: Bool = false, picklist: [String]? = nil, restricted: Bool = false,
        defaultValue: FieldValue? = nil, referenceTo: String? = nil, relationshipName: String? = nil,
        readOnly: Bool = false, createOnly: Bool = false, masterDetail: Bool = false
    ) {
        self.name = name
        self.type = type
        self.length = length
        self.required = required
        self.externalId = externalId
        self.unique = unique
        self.caseSensitive = caseSensitive
        self.picklist = picklist
        self.restricted = restricted
        self.defaultValue = defaultValue
        self.referenceTo = referenceTo
        self.relationshipName = relationshipName
        self.readOnly = readOnly
        self.createOnly = createOnly
        self.masterDetail = masterDetail
    }

    /// Whether two values of this field are the same for uniqueness and external-ID matching.
    func key(of value: FieldValue) -> String? {
        switch value {
        case .null: return nil
        case .string(let text): return caseSensitive ? text : text.lowercased()
        case .number(let number): return "\(number)"
        default: return "\(value)"
        }
    }
}

public enum FieldType: String, Sendable, Codable {
    case id, string, textarea, email, phone, url, picklist, boolean, int, double, currency, percent, date, datetime, reference

    var isText: Bool { [.string, .textarea, .email, .phone, .url].contains(self) }
    var isNumber: Bool { [.int, .double, .currency, .percent].contains(self) }

    var soqlKind: SOQLFieldKind {
        switch self {
        case .id, .reference: .id
        case .string, .textarea, .email, .phone, .url, .picklist: .string
        case .boolean: .boolean
        case .int, .double, .currency, .percent: .number
        case .date: .date
        case .datetime: .dateTime
        }
    }
}

/// A validation rule: a value matching `rejects` fails with FIELD_CUSTOM_VALIDATION_EXCEPTION.
public struct ValidationRule: Sendable {
    public let field: String
    public let rejects: String
    public let message: String
}

public struct SchemaError: Error, CustomStringConvertible {
    public let file: String
    public let problem: String
    public var description: String { "\(file): \(problem)" }
}

/// The file's shape; unknown keys are errors so a misspelt attribute is not silently ignored.
private struct SchemaDocument: Decodable {
    let currencies: [String]
    let defaultCurrency: String
    let opportunityStages: [OpportunityStage]
    let standardPricebook: StandardPricebook
    let objects: [DeclaredObject]

    struct StandardPricebook: Decodable { let name: String }

    struct DeclaredObject: Decodable {
        let name: String
        let keyPrefix: String
        let fields: [DeclaredField]
        let validationRules: [DeclaredRule]?

        private enum CodingKeys: String, CodingKey, CaseIterable { case name, keyPrefix, fields, validationRules }
        init(from decoder: any Decoder) throws {
            try StrictKeys.check(decoder, allowed: CodingKeys.self)
            let container = try decoder.container(keyedBy: CodingKeys.self)
            name = try container.decode(String.self, forKey: .name)
            keyPrefix = try container.decode(String.self, forKey: .keyPrefix)
            fields = try container.decode([DeclaredField].self, forKey: .fields)
            validationRules = try container.decodeIfPresent([DeclaredRule].self, forKey: .validationRules)
        }
    }

    struct DeclaredRule: Decodable {
        let field: String
        let rejectsPattern: String
        let message: String
    }

    struct DeclaredField: Decodable {
        let name: String
        let type: FieldType
        let length: Int?
        let required, externalId, unique, caseSensitive, restricted, readOnly, createOnly, masterDetail: Bool?
        let picklist: [String]?
        let picklistFrom: String?
        let `default`: JSONValue?
        let referenceTo: String?
        let relationshipName: String?

        private enum CodingKeys: String, CodingKey, CaseIterable {
            case name, type, length, required, externalId, unique, caseSensitive, restricted, readOnly, createOnly, masterDetail
            case picklist, picklistFrom, `default`, referenceTo, relationshipName
        }
        init(from decoder: any Decoder) throws {
            try StrictKeys.check(decoder, allowed: CodingKeys.self)
            let container = try decoder.container(keyedBy: CodingKeys.self)
            name = try container.decode(String.self, forKey: .name)
            type = try container.decode(FieldType.self, forKey: .type)
            length = try container.decodeIfPresent(Int.self, forKey: .length)
            required = try container.decodeIfPresent(Bool.self, forKey: .required)
            externalId = try container.decodeIfPresent(Bool.self, forKey: .externalId)
            unique = try container.decodeIfPresent(Bool.self, forKey: .unique)
            caseSensitive = try container.decodeIfPresent(Bool.self, forKey: .caseSensitive)
            restricted = try container.decodeIfPresent(Bool.self, forKey: .restricted)
            readOnly = try container.decodeIfPresent(Bool.self, forKey: .readOnly)
            createOnly = try container.decodeIfPresent(Bool.self, forKey: .createOnly)
            masterDetail = try container.decodeIfPresent(Bool.self, forKey: .masterDetail)
            picklist = try container.decodeIfPresent([String].self, forKey: .picklist)
            picklistFrom = try container.decodeIfPresent(String.self, forKey: .picklistFrom)
            `default` = try container.decodeIfPresent(JSONValue.self, forKey: .default)
            referenceTo = try container.decodeIfPresent(String.self, forKey: .referenceTo)
            relationshipName = try container.decodeIfPresent(String.self, forKey: .relationshipName)
        }
    }
}
