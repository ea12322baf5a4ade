import Contract
import Foundation
import SandboxCore

/// The account's record types and seed records, read from a data file
/// (`Resources/netsuite-records.json` unless the settings name another).
struct NetSuiteSchema: Sendable {
    let recordTypes: [RecordType]
    let seedRecords: [SeedRecord]
    /// The first internal ID each ID sequence hands out (before seed records are counted).
    let firstIds: [String: Int]
    private let typesByName: [String: RecordType]

    /// Record type names match case-insensitively, as in NetSuite URLs (`customerpayment`).
    func recordType(named name: String) -> RecordType? { typesByName[name.lowercased()] }

    static func bundled() throws -> NetSuiteSchema {
        guard let url = Bundle.module.url(forResource: "netsuite-records", withExtension: "json") else {
            throw NetSuiteSetupError(source: "netsuite-records.json", problem: "not found in the sandbox's resources")
        }
        return try load(from: url)
    }

    static func load(from url: URL) throws -> NetSuiteSchema {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw NetSuiteSetupError(source: url.path, problem: "cannot be read: \(error.localizedDescription)")
        }
        let document: SchemaDocument
        do {
            document = try JSONDecoder().decode(SchemaDocument.self, from: data)
        } catch {
            throw NetSuiteSetupError(source: url.lastPathComponent, problem: NetSuiteSetupError.describe(error))
        }
        return try NetSuiteSchema(document: document, file: url.lastPathComponent)
    }

    private init(document: SchemaDocument, file: String) throws {
        func fail(_ problem: String) -> NetSuiteSetupError { NetSuiteSetupError(source: file, problem: problem) }
        var canonicalNames: [String: String] = [:]
        for declared in document.recordTypes {
            guard canonicalNames.updateValue(declared.name, forKey: declared.name.lowercased()) == nil else {
                throw fail("record type \(declared.name) is declared twice")
            }
        }
        let sequences = Dictionary(uniqueKeysWithValues: document.recordTypes.map { ($0.name, $0.idSequence ?? $0.name) })

        var types: [RecordType] = []
        for declared in document.recordTypes {
            let context = "record type \(declared.name)"
            func field(_ declaration: FieldDeclaration, in place: String) throws -> FieldDefinition {
                try FieldDefinition(declaration, place: "\(context) \(place)", canonicalNames: canonicalNames, sequences: sequences, file: file)
            }
            var fields = RecordType.systemFields
            for declaration in declared.fields {
                guard !fields.contains(where: { $0.name.lowercased() == declaration.name.lowercased() }) else {
                    throw fail("\(context): field \(declaration.name) is declared twice or clashes with a system field")
                }
                fields.append(try field(declaration, in: "field \(declaration.name)"))
            }
            var sublists: [SublistDefinition] = []
            for sublist in declared.sublists ?? [] {
                guard !fields.contains(where: { $0.name.lowercased() == sublist.name.lowercased() }),
                    !sublists.contains(where: { $0.name.lowercased() == sublist.name.lowercased() })
                else { throw fail("\(context): sublist \(sublist.name) clashes with another field or sublist") }
                var lineFields: [FieldDefinition] = []
                for declaration in sublist.lineFields {
                    guard declaration.name.lowercased() != "line", !lineFields.contains(where: { $0.name.lowercased() == declaration.name.lowercased() })
                    else { throw fail("\(context) sublist \(sublist.name): line field \(declaration.name) is declared twice or is `line`") }
                    lineFields.append(try field(declaration, in: "sublist \(sublist.name) field \(declaration.name)"))
                }
                if let key = sublist.matchBy, !lineFields.contains(where: { $0.name == key }) {
                    throw fail("\(context) sublist \(sublist.name): matchBy \(key) is not a line field")
                }
                sublists.append(SublistDefinition(name: sublist.name, label: sublist.label, lineFields: lineFields, matchBy: sublist.matchBy))
            }
            for (place, list) in [("", fields)] + sublists.map({ ("sublist \($0.name) ", $0.lineFields) }) {
                for field in list {
                    if let condition = field.requiredWhen, !list.contains(where: { $0.name == condition.field }) {
                        throw fail("\(context) \(place)field \(field.name): requiredWhen names unknown field \(condition.field)")
                    }
                }
            }
            if let autoNumber = declared.autoNumber {
                guard case .string? = fields.first(where: { $0.name == autoNumber.field })?.kind else {
                    throw fail("\(context): autoNumber field \(autoNumber.field) is not a string field")
                }
            }
            types.append(
                RecordType(
                    name: declared.name, label: declared.label, idSequence: declared.idSequence ?? declared.name,
                    refNameTemplate: declared.refName, autoNumber: declared.autoNumber, rules: declared.rules ?? .plain,
                    fields: fields, sublists: sublists))
        }
        for type in types {
            let problems = type.rules.problems(with: type, in: types)
            if let problem = problems.first { throw fail("record type \(type.name): \(problem)") }
        }
        for required in [RecordRules.invoice, .creditMemo, .customerPayment] where !types.contains(where: { $0.rules == required }) {
            throw fail("no record type has the \(required.rawValue) rules")
        }
        for sequence in (document.idSequences ?? [:]).keys where !sequences.values.contains(sequence) {
            throw fail("idSequences: no record type uses the sequence \(sequence)")
        }

        recordTypes = types
        typesByName = Dictionary(uniqueKeysWithValues: types.map { ($0.name.lowercased(), $0) })
        firstIds = (document.idSequences ?? [:]).mapValues(\.firstId)
        var seeds: [SeedRecord] = []
        for seed in document.seedRecords ?? [] {
            guard let type = typesByName[seed.type.lowercased()] else { throw fail("seed record of unknown type \(seed.type)") }
            guard let id = Int(seed.id), id > 0 else { throw fail("seed \(seed.type) \(seed.id): id must be a positive integer") }
            seeds.append(SeedRecord(type: type.name, id: id, fields: seed.fields))
        }
        seedRecords = seeds
    }
}

/// Why the sandbox cannot start: a bad record-type file, seed record, key file or setting.
struct NetSuiteSetupError: Error, CustomStringConvertible {
    /// The file or record at fault.
    let source: String
    let problem: String
    var description: String { "\(source): \(problem)" }

    /// A decoding error as one line naming where it happened.
    static func describe(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return "\(error)" }
        let context: DecodingError.Context
        switch error {
        case .dataCorrupted(let found), .keyNotFound(_, let found), .typeMismatch(_, let found), .valueNotFound(_, let found):
            context = found
        @unknown default:
            return "\(error)"
        }
        let path = context.codingPath.map(\.stringValue).joined(separator: ".")
        return path.isEmpty ? context.debugDescription : "\(context.debugDescription) at \(path)"
    }
}

/// A record the account starts with, in the request-body format.
struct SeedRecord: Sendable {
    let type: String
    let id: Int
    let fields: [String: JSONValue]
}

struct RecordType: Sendable {
    let name: String
    let label: String
    /// Types that share a sequence share internal IDs (NetSuite's entity, transaction and item tables).
    let idSequence: String
    /// `refName` of a reference to a record of this type, e.g. `Invoice #{tranId}`.
    let refNameTemplate: String
    let autoNumber: AutoNumber?
    let rules: RecordRules
    let fields: [FieldDefinition]
    let sublists: [SublistDefinition]
    private let fieldsByName: [String: FieldDefinition]
    private let sublistsByName: [String: SublistDefinition]

    init(
        name: String, label: String, idSequence: String, refNameTemplate: String, autoNumber: AutoNumber?, rules: RecordRules,
        fields: [FieldDefinition], sublists: [SublistDefinition]
    ) {
        self.name = name
        self.label = label
        self.idSequence = idSequence
        self.refNameTemplate = refNameTemplate
        self.autoNumber = autoNumber
        self.rules = rules
        self.fields = fields
        self.sublists = sublists
        fieldsByName = Dictionary(uniqueKeysWithValues: fields.map { ($0.name.lowercased(), $0) })
        sublistsByName = Dictionary(uniqueKeysWithValues: sublists.map { ($0.name.lowercased(), $0) })
    }

    /// Property names match case-insensitively (`companyName`, `companyname`).
    func field(named name: String) -> FieldDefinition? { fieldsByName[name.lowercased()] }
    func sublist(named name: String) -> SublistDefinition? { sublistsByName[name.lowercased()] }

    static let externalId = "externalId"
    static let createdDate = "createdDate"
    static let lastModifiedDate = "lastModifiedDate"

    /// Fields every record has besides `id`.
    static let systemFields = [
        FieldDefinition(name: externalId, label: "External ID", kind: .string(maxLength: 255)),
        FieldDefinition(name: createdDate, label: "Date Created", kind: .dateTime, readOnly: true),
        FieldDefinition(name: lastModifiedDate, label: "Last Modified", kind: .dateTime, readOnly: true),
    ]

    /// Properties a client may send back from a GET that carry no field: ignored like read-only fields.
    static let responseOnlyProperties: Set<String> = ["id", "links", "refname"]
}

struct AutoNumber: Sendable, Decodable {
    /// The string field numbered when a new record leaves it empty, e.g. `tranId`.
    let field: String
    let prefix: String
}

struct SublistDefinition: Sendable {
    let name: String
    let label: String
    let lineFields: [FieldDefinition]
    /// A line field that identifies a line when an update gives no `line` number (`doc` on `apply`).
    let matchBy: String?

    func field(named name: String) -> FieldDefinition? { lineFields.first { $0.name.lowercased() == name.lowercased() } }
}

struct FieldDefinition: Sendable {
    let name: String
    /// The name NetSuite uses in "Please enter value(s) for: …".
    let label: String
    let kind: FieldKind
    var required = false
    var requiredWhen: RequiredWhen?
    var readOnly = false
    var unique = false
    var uniqueMessage: String?
    var defaultValue: DefaultValue?

    init(name: String, label: String, kind: FieldKind, readOnly: Bool = false) {
        self.name = name
        self.label = label
        self.kind = kind
        self.readOnly = readOnly
    }

    fileprivate init(
        _ declaration: FieldDeclaration, place: String, canonicalNames: [String: String], sequences: [String: String], file: String
    ) throws {
        func fail(_ problem: String) -> NetSuiteSetupError { NetSuiteSetupError(source: file, problem: "\(place): \(problem)") }
        name = declaration.name
        label = declaration.label ?? declaration.name
        switch declaration.type {
        case "string":
            if let length = declaration.maxLength, length < 1 { throw fail("maxLength must be positive") }
            kind = .string(maxLength: declaration.maxLength)
        case "number": kind = .number
        case "boolean": kind = .boolean
        case "date": kind = .date
        case "reference":
            let targets = try (declaration.references ?? []).map { target in
                guard let canonical = canonicalNames[target.lowercased()] else { throw fail("references unknown record type \(target)") }
                return canonical
            }
            guard let first = targets.first else { throw fail("a reference needs references") }
            // Internal IDs are unique only within a sequence, so a reference must stay inside one.
            guard targets.allSatisfy({ sequences[$0] == sequences[first] }) else {
                throw fail("the types a reference points at must share one idSequence")
            }
            kind = .reference(targets)
        case "enum":
            guard let values = declaration.values, !values.isEmpty else { throw fail("an enum needs values") }
            kind = .enumeration(values)
        case "subrecord":
            let fields = try (declaration.fields ?? []).map { nested in
                guard ["string", "number", "boolean", "date", "enum"].contains(nested.type) else {
                    throw fail("subrecord field \(nested.name) must be a string, number, boolean, date or enum")
                }
                return try FieldDefinition(
                    nested, place: "\(place) field \(nested.name)", canonicalNames: canonicalNames, sequences: sequences, file: file)
            }
            guard !fields.isEmpty else { throw fail("a subrecord needs fields") }
            kind = .subrecord(fields)
        default:
            throw fail("unknown type \(declaration.type); use string, number, boolean, date, reference, enum or subrecord")
        }
        required = declaration.required ?? false
        readOnly = declaration.readOnly ?? false
        unique = declaration.unique ?? false
        uniqueMessage = declaration.uniqueMessage
        if let condition = declaration.requiredWhen {
            requiredWhen = RequiredWhen(field: condition.field, equals: condition.equals)
        }
        if let value = declaration.default {
            if value == "today", case .date = kind {
                defaultValue = .today
            } else {
                guard let converted = FieldValue.literal(value, for: kind) else { throw fail("default \(value) does not fit a \(declaration.type)") }
                defaultValue = .value(converted)
            }
        }
    }
}

enum FieldKind: Sendable {
    case string(maxLength: Int?)
    case number
    case boolean
    case date
    case dateTime
    /// The record types the reference may point at.
    case reference([String])
    case enumeration([EnumOption])
    /// A nested record without its own ID, e.g. a customer's address.
    case subrecord([FieldDefinition])
}

struct EnumOption: Sendable, Decodable {
    let id: String
    let refName: String
}

/// A field required only when another field of the record has a value (`companyName` when `isPerson` is false).
struct RequiredWhen: Sendable {
    let field: String
    let equals: JSONValue
}

enum DefaultValue: Sendable {
    case value(FieldValue)
    /// The date the record is created (transaction dates).
    case today
}

/// The NetSuite behaviour a record type follows beyond field validation.
enum RecordRules: String, Sendable, Decodable {
    case plain
    /// `entity` customer, item lines with amounts, `total`; subsidiary and currency default from the customer.
    case transaction
    /// A transaction that payments and credit memos settle: `amountRemaining` and `status`.
    case invoice
    /// A transaction whose `apply` lines settle invoices from its total.
    case creditMemo
    /// `customer`, `payment` and `apply` lines settling invoices.
    case customerPayment

    var hasItemLines: Bool { self == .transaction || self == .invoice || self == .creditMemo }
    var settlesInvoices: Bool { self == .creditMemo || self == .customerPayment }
    /// The reference to the customer: `entity` on transactions, `customer` on payments.
    var customerField: String? {
        switch self {
        case .plain: nil
        case .customerPayment: "customer"
        default: "entity"
        }
    }

    /// What a type with these rules lacks for the sandbox to apply them.
    func problems(with type: RecordType, in types: [RecordType]) -> [String] {
        var problems: [String] = []
        func expect(_ name: String, _ isRight: (FieldKind) -> Bool, in fields: [FieldDefinition], what: String) {
            guard let field = fields.first(where: { $0.name == name }), isRight(field.kind) else {
                problems.append("the \(rawValue) rules need \(what) \(name)")
                return
            }
        }
        func number(_ kind: FieldKind) -> Bool { if case .number = kind { true } else { false } }
        func boolean(_ kind: FieldKind) -> Bool { if case .boolean = kind { true } else { false } }
        func reference(to rules: RecordRules?, named target: String? = nil) -> (FieldKind) -> Bool {
            { kind in
                guard case .reference(let targets) = kind else { return false }
                if let target { return targets == [target] }
                return targets.allSatisfy { name in types.first { $0.name == name }?.rules == rules }
            }
        }
        if let customerField {
            expect(customerField, reference(to: .plain, named: "customer"), in: type.fields, what: "a reference to customer")
            expect("subsidiary", reference(to: .plain, named: "subsidiary"), in: type.fields, what: "a reference to subsidiary")
            expect("currency", reference(to: .plain, named: "currency"), in: type.fields, what: "a reference to currency")
            if !types.contains(where: { $0.name == "customer" }) { problems.append("the \(rawValue) rules need the customer record type") }
        }
        if hasItemLines {
            expect("total", number, in: type.fields, what: "a number field")
            if let lines = type.sublist(named: "item")?.lineFields {
                expect("item", reference(to: .plain), in: lines, what: "an item line reference")
                for name in ["quantity", "rate", "amount"] { expect(name, number, in: lines, what: "an item line number") }
            } else {
                problems.append("the \(rawValue) rules need an item sublist")
            }
        }
        if self == .invoice {
            expect("amountRemaining", number, in: type.fields, what: "a number field")
            expect("status", { kind in
                guard case .enumeration(let options) = kind else { return false }
                return Set(options.map(\.id)).isSuperset(of: [InvoiceStatus.open, InvoiceStatus.paidInFull])
            }, in: type.fields, what: "an enum with values A and B")
        }
        if settlesInvoices {
            expect("applied", number, in: type.fields, what: "a number field")
            expect("unapplied", number, in: type.fields, what: "a number field")
            if let lines = type.sublist(named: "apply")?.lineFields {
                expect("doc", reference(to: .invoice), in: lines, what: "an apply line reference to invoices")
                expect("apply", boolean, in: lines, what: "an apply line boolean")
                expect("amount", number, in: lines, what: "an apply line number")
            } else {
                problems.append("the \(rawValue) rules need an apply sublist")
            }
        }
        if self == .customerPayment {
            expect("payment", number, in: type.fields, what: "a number field")
        }
        return problems
    }
}

enum InvoiceStatus {
    static let open = "A"
    static let paidInFull = "B"
}

// MARK: The file's format

private struct SchemaDocument: Decodable {
    let recordTypes: [RecordTypeDeclaration]
    let idSequences: [String: SequenceDeclaration]?
    let seedRecords: [SeedDeclaration]?

    private enum CodingKeys: String, CodingKey, CaseIterable { case about, recordTypes, idSequences, seedRecords }

    init(from decoder: any Decoder) throws {
        try StrictKeys.check(decoder, allowed: CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        recordTypes = try container.decode([RecordTypeDeclaration].self, forKey: .recordTypes)
        idSequences = try container.decodeIfPresent([String: SequenceDeclaration].self, forKey: .idSequences)
        seedRecords = try container.decodeIfPresent([SeedDeclaration].self, forKey: .seedRecords)
    }
}

private struct SequenceDeclaration: Decodable {
    let firstId: Int
}

private struct SeedDeclaration: Decodable {
    let type: String
    let id: String
    let fields: [String: JSONValue]
}

private struct RecordTypeDeclaration: Decodable {
    let name: String
    let label: String
    let idSequence: String?
    let refName: String
    let autoNumber: AutoNumber?
    let rules: RecordRules?
    let fields: [FieldDeclaration]
    let sublists: [SublistDeclaration]?

    private enum CodingKeys: String, CodingKey, CaseIterable {
        case name, label, idSequence, refName, autoNumber, rules, fields, sublists
    }

    init(from decoder: any Decoder) throws {
        try StrictKeys.check(decoder, allowed: CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        label = try container.decode(String.self, forKey: .label)
        idSequence = try container.decodeIfPresent(String.self, forKey: .idSequence)
        refName = try container.decode(String.self, forKey: .refName)
        autoNumber = try container.decodeIfPresent(AutoNumber.self, forKey: .autoNumber)
        rules = try container.decodeIfPresent(RecordRules.self, forKey: .rules)
        fields = try container.decode([FieldDeclaration].self, forKey: .fields)
        sublists = try container.decodeIfPresent([SublistDeclaration].self, forKey: .sublists)
    }
}

private struct SublistDeclaration: Decodable {
    let name: String
    let label: String
    let matchBy: String?
    let lineFields: [FieldDeclaration]

    private enum CodingKeys: String, CodingKey, CaseIterable { case name, label, matchBy, lineFields }

    init(from decoder: any Decoder) throws {
        try StrictKeys.check(decoder, allowed: CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        label = try container.decode(String.self, forKey: .label)
        matchBy = try container.decodeIfPresent(String.self, forKey: .matchBy)
        lineFields = try container.decode([FieldDeclaration].self, forKey: .lineFields)
    }
}

private struct FieldDeclaration: Decodable {
    let name: String
    let label: String?
    let type: String
    let maxLength: Int?
    let required: Bool?
    let requiredWhen: ConditionDeclaration?
    let readOnly: Bool?
    let unique: Bool?
    let uniqueMessage: String?
    let references: [String]?
    let values: [EnumOption]?
    let fields: [FieldDeclaration]?
    let `default`: JSONValue?

    private enum CodingKeys: String, CodingKey, CaseIterable {
        case name, label, type, maxLength, required, requiredWhen, readOnly, unique, uniqueMessage, references, values, fields, `default`
    }

    init(from decoder: any Decoder) throws {
        try StrictKeys.check(decoder, allowed: CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        label = try container.decodeIfPresent(String.self, forKey: .label)
        type = try container.decode(String.self, forKey: .type)
        maxLength = try container.decodeIfPresent(Int.self, forKey: .maxLength)
        required = try container.decodeIfPresent(Bool.self, forKey: .required)
        requiredWhen = try container.decodeIfPresent(ConditionDeclaration.self, forKey: .requiredWhen)
        readOnly = try container.decodeIfPresent(Bool.self, forKey: .readOnly)
        unique = try container.decodeIfPresent(Bool.self, forKey: .unique)
        uniqueMessage = try container.decodeIfPresent(String.self, forKey: .uniqueMessage)
        references = try container.decodeIfPresent([String].self, forKey: .references)
        values = try container.decodeIfPresent([EnumOption].self, forKey: .values)
        fields = try container.decodeIfPresent([FieldDeclaration].self, forKey: .fields)
        `default` = try container.decodeIfPresent(JSONValue.self, forKey: .default)
    }
}

private struct ConditionDeclaration: Decodable {
    let field: String
    let equals: JSONValue
}
