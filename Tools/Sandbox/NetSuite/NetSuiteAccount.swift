import Contract
import Foundation
import SandboxCore

/// How a request wants unknown property names treated (`X-NetSuite-PropertyNameValidation`).
enum PropertyNameValidation: Sendable {
    case error, warning, ignore

    /// NetSuite's default is Warning.
    init(header: String?) {
        switch header?.trimmingCharacters(in: .whitespaces).lowercased() {
        case "error": self = .error
        case "ignore": self = .ignore
        default: self = .warning
        }
    }
}

struct WriteOptions: Sendable {
    var propertyNameValidation = PropertyNameValidation.warning
    /// Sublists whose lines an update replaces instead of merging (`?replace=item,apply`), lowercased.
    var replaceSublists: Set<String> = []
    var now = Date()
}

struct WriteOutcome: Sendable {
    let key: RecordKey
    /// Paths of the properties the request carried but that were not written (unknown or read-only).
    let ignoredProperties: [String]
}

struct StoredLine: Sendable {
    /// The line's number within its sublist, which updates use to address it.
    var line: Int
    var values: [String: FieldValue]
}

struct StoredRecord: Sendable {
    let key: RecordKey
    var values: [String: FieldValue]
    var sublists: [String: [StoredLine]]
}

/// The account's records and the rules NetSuite applies when they are written. Every write is
/// validated completely before anything is stored, so a failed request changes nothing.
struct AccountData: Sendable {
    let schema: NetSuiteSchema
    private var records: [String: [Int: StoredRecord]] = [:]
    /// The next internal ID of each ID sequence.
    private var nextIds: [String: Int]
    /// Record type → external ID → internal ID.
    private var externalIds: [String: [String: Int]] = [:]
    /// Values of unique fields (case-insensitive) and the record holding each.
    private var uniqueValues: [UniqueKey: Int] = [:]
    /// Invoice → payment or credit memo → amount it applies to the invoice.
    private var applications: [RecordKey: [RecordKey: Decimal]] = [:]

    private struct UniqueKey: Hashable {
        let type: String
        let field: String
        let value: String
    }

    /// The account as it starts: the schema's seed records, written through the normal validation.
    static func seeded(schema: NetSuiteSchema) throws -> AccountData {
        var data = AccountData(schema: schema)
        let now = Date()
        for seed in schema.seedRecords {
            guard let type = schema.recordType(named: seed.type) else { continue }
            do throws(NetSuiteError) {
                let input = try data.parseInput(.object(seed.fields), of: type, mode: .error)
                _ = try data.write(type, input: input, existing: nil, fixedId: seed.id, options: WriteOptions(now: now))
            } catch {
                let location = error.path.map { " at \($0)" } ?? ""
                throw NetSuiteSetupError(source: "seed record \(seed.type) \(seed.id)", problem: "\(error.detail)\(location)")
            }
        }
        return data
    }

    private init(schema: NetSuiteSchema) {
        self.schema = schema
        nextIds = schema.firstIds
    }

    // MARK: Reading

    func record(_ type: RecordType, id: Int) -> StoredRecord? { records[type.name]?[id] }

    func record(_ key: RecordKey) -> StoredRecord? { records[key.type]?[key.id] }

    func id(of type: RecordType, externalId: String) -> Int? { externalIds[type.name]?[externalId] }

    func allRecords(of type: RecordType) -> [StoredRecord] {
        (records[type.name] ?? [:]).sorted { $0.key < $1.key }.map(\.value)
    }

    func counts() -> [String: Int] {
        Dictionary(uniqueKeysWithValues: schema.recordTypes.map { ($0.name, records[$0.name]?.count ?? 0) })
    }

    /// The record's values plus those NetSuite derives from other records: an invoice's
    /// `amountRemaining` and `status` follow the payments and credits applied to it.
    func effectiveValues(of record: StoredRecord, type: RecordType) -> [String: FieldValue] {
        guard type.rules == .invoice else { return record.values }
        var values = record.values
        let remaining = (values["total"]?.decimal ?? 0) - appliedAmount(to: record.key)
        values["amountRemaining"] = .number(remaining)
        values["status"] = .option(remaining > 0 ? InvoiceStatus.open : InvoiceStatus.paidInFull)
        return values
    }

    private func appliedAmount(to invoice: RecordKey, excluding settlement: RecordKey? = nil) -> Decimal {
        (applications[invoice] ?? [:]).reduce(0) { sum, entry in entry.key == settlement ? sum : sum + entry.value }
    }

    // MARK: Writing

    mutating func create(_ type: RecordType, body: JSONValue, options: WriteOptions) throws(NetSuiteError) -> WriteOutcome {
        let input = try parseInput(body, of: type, mode: options.propertyNameValidation)
        return try write(type, input: input, existing: nil, options: options)
    }

    mutating func update(_ type: RecordType, id: Int, body: JSONValue, options: WriteOptions) throws(NetSuiteError) -> WriteOutcome {
        guard let existing = record(type, id: id) else { throw .nonexistentId }
        let input = try parseInput(body, of: type, mode: options.propertyNameValidation)
        return try write(type, input: input, existing: existing, options: options)
    }

    /// `PUT …/eid:{externalId}`: updates the record with that external ID, or creates it.
    mutating func upsert(_ type: RecordType, externalId: String, body: JSONValue, options: WriteOptions) throws(NetSuiteError) -> WriteOutcome {
        guard ExternalId.isValid(externalId) else { throw invalidExternalId(externalId, path: nil) }
        var input = try parseInput(body, of: type, mode: options.propertyNameValidation)
        switch input.changes[RecordType.externalId] {
        case nil, .set(.text(externalId))?: break
        default:
            // Unverified wording; NetSuite refuses a body that names another external ID.
            throw .invalidContent(
                "The externalId in the request body does not match the external ID in the URL (\(externalId)).", path: RecordType.externalId)
        }
        input.changes[RecordType.externalId] = .set(.text(externalId))
        let existing = self.id(of: type, externalId: externalId).flatMap { record(type, id: $0) }
        return try write(type, input: input, existing: existing, options: options)
    }

    mutating func delete(_ type: RecordType, id: Int) throws(NetSuiteError) {
        guard let record = record(type, id: id) else { throw .nonexistentId }
        if isReferenced(record.key) {
            // Unverified wording.
            throw .userError("Error while accessing a resource. This record cannot be deleted because it has dependent records.")
        }
        unindex(type, record)
        records[type.name]?[id] = nil
    }

    private var duplicateExternalId: NetSuiteError {
        .userError("Error while accessing a resource. This entity already exists.", path: RecordType.externalId)
    }

    private func invalidExternalId(_ value: String, path: String?) -> NetSuiteError {
        // Unverified wording; the rule (letters, digits, `_`, `-`) is documented.
        .invalidContent("Invalid external ID '\(value)'. An external ID may contain only letters, digits, underscores and hyphens.", path: path)
    }

    /// Builds the record a write leaves, checks it, and stores it only when every check passed.
    private mutating func write(
        _ type: RecordType, input: RecordInput, existing: StoredRecord?, fixedId: Int? = nil, options: WriteOptions
    ) throws(NetSuiteError) -> WriteOutcome {
        let id = existing?.key.id ?? fixedId ?? nextIds[type.idSequence, default: 1]
        // Only a seed record can ask for a taken ID; types sharing a sequence share its IDs.
        if existing == nil, schema.recordTypes.contains(where: { $0.idSequence == type.idSequence && records[$0.name]?[id] != nil }) {
            throw .userError("Error while accessing a resource. Internal ID \(id) of the \(type.idSequence) sequence is taken.")
        }
        var record = existing ?? StoredRecord(key: RecordKey(type: type.name, id: id), values: defaults(of: type.fields, now: options.now), sublists: [:])
        for (name, change) in input.changes {
            record.values[name] = change.value
        }
        for sublist in type.sublists {
            guard let change = input.sublists[sublist.name] else { continue }
            let replace = existing == nil || options.replaceSublists.contains(sublist.name.lowercased())
            record.sublists[sublist.name] = try mergedLines(
                sublist, of: type, existing: record.sublists[sublist.name] ?? [], change: change, replace: replace, now: options.now)
        }
        if let autoNumber = type.autoNumber, isEmpty(record.values[autoNumber.field]) {
            record.values[autoNumber.field] = .text("\(autoNumber.prefix)\(id)")
        }
        if existing == nil { record.values[RecordType.createdDate] = .dateTime(options.now) }
        record.values[RecordType.lastModifiedDate] = .dateTime(options.now)

        try checkRequiredFields(of: record, type: type)
        try applyRules(of: type, to: &record, isNew: existing == nil)
        try checkUniqueness(of: record, type: type)

        if let existing { unindex(type, existing) }
        records[type.name, default: [:]][id] = record
        index(type, record)
        nextIds[type.idSequence] = max(nextIds[type.idSequence, default: 1], id + 1)
        return WriteOutcome(key: record.key, ignoredProperties: input.ignored)
    }

    private func defaults(of fields: [FieldDefinition], now: Date) -> [String: FieldValue] {
        var values: [String: FieldValue] = [:]
        for field in fields {
            switch field.defaultValue {
            case .value(let value)?: values[field.name] = value
            case .today?: values[field.name] = .date(CalendarDate.today(now))
            case nil: break
            }
        }
        return values
    }

    /// A sublist after an update: lines merged by `line` number (or the sublist's key field), others
    /// appended; or all lines replaced.
    private func mergedLines(
        _ sublist: SublistDefinition, of type: RecordType, existing: [StoredLine], change: SublistChange, replace: Bool, now: Date
    ) throws(NetSuiteError) -> [StoredLine] {
        guard case .lines(let inputs) = change else { return [] }
        var lines = replace ? [] : existing
        for input in inputs {
            var index: Int?
            if let number = input.line, !replace {
                guard let found = lines.firstIndex(where: { $0.line == number }) else {
                    // Unverified wording.
                    throw .invalidContent(
                        "The line \(number) does not exist on the sublist \(sublist.name).", path: "\(sublist.name).items[\(input.position)].line")
                }
                index = found
            } else if let key = sublist.matchBy, case .set(let value)? = input.changes[key] {
                index = lines.firstIndex { $0.values[key] == value }
            }
            if let index {
                for (name, change) in input.changes { lines[index].values[name] = change.value }
                // NetSuite recalculates a line's amount when its quantity or rate changes.
                if type.rules.hasItemLines, sublist.name == "item", input.changes["amount"] == nil,
                    input.changes["quantity"] != nil || input.changes["rate"] != nil
                {
                    lines[index].values["amount"] = nil
                }
            } else {
                var values = defaults(of: sublist.lineFields, now: now)
                for (name, change) in input.changes { values[name] = change.value }
                lines.append(StoredLine(line: (lines.map(\.line).max() ?? 0) + 1, values: values))
            }
        }
        return lines
    }

    // MARK: Checks and rules

    private func isEmpty(_ value: FieldValue?) -> Bool {
        switch value {
        case nil: true
        case .text(let text)?: text.trimmingCharacters(in: .whitespaces).isEmpty
        default: false
        }
    }

    private func isRequired(_ field: FieldDefinition, given values: [String: FieldValue]) -> Bool {
        if field.required { return true }
        guard let condition = field.requiredWhen else { return false }
        return values[condition.field]?.matches(condition.equals) ?? false
    }

    private func checkRequiredFields(of record: StoredRecord, type: RecordType) throws(NetSuiteError) {
        func check(_ fields: [FieldDefinition], _ values: [String: FieldValue], path: String) throws(NetSuiteError) {
            let missing = fields.filter { isRequired($0, given: values) && isEmpty(values[$0.name]) }
            guard let first = missing.first else { return }
            throw .userError(
                "Error while accessing a resource. Please enter value(s) for: \(missing.map(\.label).joined(separator: ", ")).",
                path: path + first.name)
        }
        try check(type.fields, record.values, path: "")
        for sublist in type.sublists {
            for (index, line) in (record.sublists[sublist.name] ?? []).enumerated() {
                try check(sublist.lineFields, line.values, path: "\(sublist.name).items[\(index)].")
            }
        }
    }

    private func checkUniqueness(of record: StoredRecord, type: RecordType) throws(NetSuiteError) {
        if case .text(let externalId)? = record.values[RecordType.externalId], let owner = id(of: type, externalId: externalId),
            owner != record.key.id
        {
            throw duplicateExternalId
        }
        for field in type.fields where field.unique {
            guard case .text(let text)? = record.values[field.name],
                let owner = uniqueValues[UniqueKey(type: type.name, field: field.name, value: text.lowercased())], owner != record.key.id
            else { continue }
            // The customer ID message is NetSuite's UNIQUE_CUST_ID_REQD text (SOAP); the others are unverified.
            let message = field.uniqueMessage ?? "A \(type.label.lowercased()) with this \(field.label) already exists."
            throw .userError("Error while accessing a resource. \(message)", path: field.name)
        }
    }

    private func applyRules(of type: RecordType, to record: inout StoredRecord, isNew: Bool) throws(NetSuiteError) {
        let rules = type.rules
        if let customerField = rules.customerField, let customerKey = record.values[customerField]?.reference,
            let customer = self.record(customerKey)
        {
            // Transactions take the customer's subsidiary and currency unless they name their own.
            for name in ["subsidiary", "currency"] where record.values[name] == nil {
                record.values[name] = customer.values[name]
            }
        }
        if rules.hasItemLines {
            try computeItemLines(of: type, in: &record)
        }
        if rules == .invoice, !isNew {
            let applied = appliedAmount(to: record.key)
            if let total = record.values["total"]?.decimal, total < applied {
                // Unverified wording.
                throw .userError(
                    "Error while accessing a resource. The invoice total (\(total)) cannot be less than the amount already applied to it (\(applied)).",
                    path: "item")
            }
        }
        if rules.settlesInvoices {
            try computeApplications(of: type, in: &record)
        }
    }

    /// Line amounts (quantity × rate when omitted) and the transaction total.
    private func computeItemLines(of type: RecordType, in record: inout StoredRecord) throws(NetSuiteError) {
        var lines = record.sublists["item"] ?? []
        guard !lines.isEmpty else {
            throw .userError("You must enter at least one line item for this transaction.", path: "item")
        }
        var total: Decimal = 0
        for index in lines.indices {
            if lines[index].values["amount"] == nil {
                guard let rate = lines[index].values["rate"]?.decimal else {
                    let label = type.sublist(named: "item")?.field(named: "amount")?.label ?? "Amount"
                    throw .userError("Error while accessing a resource. Please enter value(s) for: \(label).", path: "item.items[\(index)].amount")
                }
                lines[index].values["amount"] = .number(Money.round(rate * (lines[index].values["quantity"]?.decimal ?? 1)))
            }
            total += lines[index].values["amount"]?.decimal ?? 0
        }
        record.sublists["item"] = lines
        record.values["total"] = .number(Money.round(total))
    }

    /// Checks the invoices a payment or credit memo applies to and fills in what it leaves out: a line
    /// without an amount pays the invoice's remaining amount, a payment without an amount is what it applies.
    private func computeApplications(of type: RecordType, in record: inout StoredRecord) throws(NetSuiteError) {
        let customer = type.rules.customerField.flatMap { record.values[$0]?.reference }
        var lines = record.sublists["apply"] ?? []
        var appliedHere: [RecordKey: Decimal] = [:]
        var appliedTotal: Decimal = 0
        for index in lines.indices where lines[index].values["apply"]?.flag != false {
            let path = "apply.items[\(index)]"
            guard let invoiceKey = lines[index].values["doc"]?.reference, let invoice = self.record(invoiceKey) else { continue }
            guard invoice.values["entity"]?.reference == customer else {
                // Unverified wording.
                throw .userError(
                    "Error while accessing a resource. Invoice \(invoiceKey.id) belongs to another customer and cannot be applied here.",
                    path: "\(path).doc")
            }
            let remaining = (invoice.values["total"]?.decimal ?? 0) - appliedAmount(to: invoiceKey, excluding: record.key)
                - appliedHere[invoiceKey, default: 0]
            let amount = lines[index].values["amount"]?.decimal ?? max(remaining, 0)
            guard amount >= 0 else {
                throw .invalidContent("The amount applied to invoice \(invoiceKey.id) cannot be negative.", path: "\(path).amount")
            }
            guard amount <= remaining else {
                // Unverified wording; NetSuite refuses to apply more than the amount due.
                throw .userError(
                    "Error while accessing a resource. You cannot apply more than the amount due (\(remaining)) on invoice \(invoiceKey.id).",
                    path: "\(path).amount")
            }
            lines[index].values["amount"] = .number(amount)
            appliedHere[invoiceKey, default: 0] += amount
            appliedTotal += amount
        }
        record.sublists["apply"] = lines

        let available: Decimal
        if type.rules == .customerPayment {
            available = record.values["payment"]?.decimal ?? appliedTotal
            record.values["payment"] = .number(available)
            guard available >= 0 else { throw .invalidContent("The payment amount cannot be negative.", path: "payment") }
        } else {
            available = record.values["total"]?.decimal ?? 0
        }
        guard appliedTotal <= available else {
            // Unverified wording.
            throw .userError(
                "Error while accessing a resource. The total applied (\(appliedTotal)) exceeds the amount available (\(available)).",
                path: type.rules == .customerPayment ? "payment" : "apply")
        }
        record.values["applied"] = .number(appliedTotal)
        record.values["unapplied"] = .number(available - appliedTotal)
    }

    // MARK: Indexes

    /// What a payment or credit memo applies to each invoice.
    private func applications(of record: StoredRecord, type: RecordType) -> [RecordKey: Decimal] {
        guard type.rules.settlesInvoices else { return [:] }
        var result: [RecordKey: Decimal] = [:]
        for line in record.sublists["apply"] ?? [] where line.values["apply"]?.flag != false {
            guard let invoice = line.values["doc"]?.reference, let amount = line.values["amount"]?.decimal, amount > 0 else { continue }
            result[invoice, default: 0] += amount
        }
        return result
    }

    private mutating func index(_ type: RecordType, _ record: StoredRecord) {
        if case .text(let externalId)? = record.values[RecordType.externalId] {
            externalIds[type.name, default: [:]][externalId] = record.key.id
        }
        for field in type.fields where field.unique {
            if case .text(let text)? = record.values[field.name] {
                uniqueValues[UniqueKey(type: type.name, field: field.name, value: text.lowercased())] = record.key.id
            }
        }
        for (invoice, amount) in applications(of: record, type: type) {
            applications[invoice, default: [:]][record.key] = amount
        }
    }

    private mutating func unindex(_ type: RecordType, _ record: StoredRecord) {
        if case .text(let externalId)? = record.values[RecordType.externalId] {
            externalIds[type.name]?[externalId] = nil
        }
        for field in type.fields where field.unique {
            if case .text(let text)? = record.values[field.name] {
                uniqueValues[UniqueKey(type: type.name, field: field.name, value: text.lowercased())] = nil
            }
        }
        for invoice in applications(of: record, type: type).keys {
            applications[invoice]?[record.key] = nil
        }
    }

    /// Whether any record points at `key` (NetSuite refuses to delete such a record).
    private func isReferenced(_ key: RecordKey) -> Bool {
        func refers(_ values: [String: FieldValue]) -> Bool {
            values.values.contains { value in
                switch value {
                case .reference(let target): target == key
                case .subrecord(let nested): refers(nested)
                default: false
                }
            }
        }
        return records.values.contains { byId in
            byId.values.contains { record in
                record.key != key && (refers(record.values) || record.sublists.values.contains { $0.contains { refers($0.values) } })
            }
        }
    }
}

// MARK: Request bodies

enum FieldChange: Sendable {
    case set(FieldValue)
    /// `null` in the body: the field is cleared.
    case clear

    var value: FieldValue? {
        if case .set(let value) = self { return value }
        return nil
    }
}

enum SublistChange: Sendable {
    case lines([LineInput])
    /// `null` in the body: every line is removed.
    case clear
}

struct LineInput: Sendable {
    /// Index of the line in the request's `items`, for error paths.
    let position: Int
    let line: Int?
    let changes: [String: FieldChange]
}

struct RecordInput: Sendable {
    var changes: [String: FieldChange] = [:]
    var sublists: [String: SublistChange] = [:]
    var ignored: [String] = []
}

extension AccountData {
    /// Reads a request body against the record type: property names matched case-insensitively, value
    /// types and references checked.
    func parseInput(_ body: JSONValue, of type: RecordType, mode: PropertyNameValidation) throws(NetSuiteError) -> RecordInput {
        guard case .object(let properties) = body else { throw .invalidJSON }
        var input = RecordInput()
        for (name, value) in properties.sorted(by: { $0.key < $1.key }) {
            if RecordType.responseOnlyProperties.contains(name.lowercased()) {
                input.ignored.append(name)
            } else if let field = type.field(named: name) {
                // Read-only fields are skipped like unknown ones (unverified: NetSuite may warn differently).
                if field.readOnly {
                    input.ignored.append(field.name)
                } else {
                    input.changes[field.name] = try change(value, for: field, path: field.name, mode: mode, ignored: &input.ignored)
                }
            } else if let sublist = type.sublist(named: name) {
                if let change = try sublistChange(value, sublist: sublist, mode: mode, ignored: &input.ignored) {
                    input.sublists[sublist.name] = change
                }
            } else {
                try unknownProperty(name, mode: mode, ignored: &input.ignored)
            }
        }
        return input
    }

    private func unknownProperty(_ path: String, mode: PropertyNameValidation, ignored: inout [String]) throws(NetSuiteError) {
        // Unverified wording.
        if mode == .error { throw .invalidContent("Invalid content in the request body. Unknown property name: '\(path)'.", path: path) }
        ignored.append(path)
    }

    private func sublistChange(
        _ json: JSONValue, sublist: SublistDefinition, mode: PropertyNameValidation, ignored: inout [String]
    ) throws(NetSuiteError) -> SublistChange? {
        let wrongType = NetSuiteError.invalidContent(
            "Invalid value type for sublist \(sublist.name): expected an object with an items array.", path: sublist.name)
        switch json {
        case .null:
            return .clear
        case .object(let object):
            // A sublist as a GET returned it (links, counts) without items changes nothing.
            guard let items = object.first(where: { $0.key.lowercased() == "items" })?.value else { return nil }
            guard case .array(let lines) = items else { throw wrongType }
            var inputs: [LineInput] = []
            for (position, line) in lines.enumerated() {
                let linePath = "\(sublist.name).items[\(position)]"
                guard case .object(let properties) = line else {
                    throw .invalidContent("Invalid value type for a line of sublist \(sublist.name): expected an object.", path: linePath)
                }
                var number: Int?
                var changes: [String: FieldChange] = [:]
                for (name, value) in properties.sorted(by: { $0.key < $1.key }) {
                    let lowercased = name.lowercased()
                    if lowercased == "line" {
                        guard let parsed = InternalId.parse(value) else {
                            throw .invalidContent("Invalid value type for field line: expected a line number.", path: "\(linePath).line")
                        }
                        number = parsed
                    } else if RecordType.responseOnlyProperties.contains(lowercased) {
                        ignored.append("\(linePath).\(name)")
                    } else if let field = sublist.field(named: name) {
                        if field.readOnly {
                            ignored.append("\(linePath).\(field.name)")
                        } else {
                            changes[field.name] = try change(value, for: field, path: "\(linePath).\(field.name)", mode: mode, ignored: &ignored)
                        }
                    } else {
                        try unknownProperty("\(linePath).\(name)", mode: mode, ignored: &ignored)
                    }
                }
                inputs.append(LineInput(position: position, line: number, changes: changes))
            }
            return .lines(inputs)
        default:
            throw wrongType
        }
    }

    private func change(
        _ json: JSONValue, for field: FieldDefinition, path: String, mode: PropertyNameValidation, ignored: inout [String]
    ) throws(NetSuiteError) -> FieldChange {
        if json == .null { return .clear }
        return .set(try value(json, for: field, path: path, mode: mode, ignored: &ignored))
    }

    private func value(
        _ json: JSONValue, for field: FieldDefinition, path: String, mode: PropertyNameValidation, ignored: inout [String]
    ) throws(NetSuiteError) -> FieldValue {
        let wrongType = NetSuiteError.invalidContent("Invalid value type for field \(field.name): expected \(field.kind.expectation).", path: path)
        switch field.kind {
        case .string(let maxLength):
            guard case .string(let text) = json else { throw wrongType }
            if let maxLength, text.count > maxLength {
                // NetSuite's wording as its UI and SOAP give it; unverified for REST.
                throw .invalidContent(
                    "The field \(field.name) contained more than the maximum number ( \(maxLength) ) of characters allowed.", path: path)
            }
            if field.name == RecordType.externalId, !ExternalId.isValid(text) { throw invalidExternalId(text, path: path) }
            return .text(text)
        case .number:
            guard case .number(let number) = json else { throw wrongType }
            // Keeps amounts within what Decimal arithmetic handles exactly (unverified limit).
            guard number.isFinite, number.magnitude < Decimal(sign: .plus, exponent: 15, significand: 1) else {
                throw .invalidContent("Invalid number value for field \(field.name): it is out of range.", path: path)
            }
            return .number(number)
        case .boolean:
            guard case .bool(let flag) = json else { throw wrongType }
            return .boolean(flag)
        case .date:
            guard case .string(let text) = json else { throw wrongType }
            guard CalendarDate.isValid(text) else {
                throw .invalidContent("Invalid date value '\(text)' for field \(field.name). Use the format YYYY-MM-DD.", path: path)
            }
            return .date(text)
        case .dateTime:
            throw wrongType
        case .enumeration(let options):
            let id: String
            switch json {
            case .string(let text): id = text
            case .object(let object):
                guard case .string(let text)? = object["id"] else { throw wrongType }
                id = text
            default: throw wrongType
            }
            guard let option = options.first(where: { $0.id.caseInsensitiveCompare(id) == .orderedSame }) else {
                // Unverified wording.
                throw .invalidContent(
                    "Invalid value '\(id)' for field \(field.name). Use one of: \(options.map(\.id).joined(separator: ", ")).", path: path)
            }
            return .option(option.id)
        case .reference(let targets):
            let given: JSONValue
            switch json {
            case .object(let object):
                guard let id = object["id"] else { throw wrongType }
                given = id
            case .string, .number: given = json
            default: throw wrongType
            }
            let key = InternalId.parse(given).flatMap { id in
                targets.lazy.map { RecordKey(type: $0, id: id) }.first { record($0) != nil }
            }
            guard let key else {
                let shown: String
                switch given {
                case .string(let text): shown = text
                case .number(let number): shown = "\(number)"
                default: shown = ""
                }
                throw .invalidContent(
                    "Error while accessing resource: You have entered an Invalid Field Value \(shown) for the following field: \(field.name)",
                    path: path)
            }
            return .reference(key)
        case .subrecord(let fields):
            guard case .object(let properties) = json else { throw wrongType }
            var values: [String: FieldValue] = [:]
            for (name, nested) in properties.sorted(by: { $0.key < $1.key }) {
                if RecordType.responseOnlyProperties.contains(name.lowercased()) {
                    ignored.append("\(path).\(name)")
                } else if let nestedField = fields.first(where: { $0.name.lowercased() == name.lowercased() }) {
                    if nested != .null {
                        values[nestedField.name] = try value(
                            nested, for: nestedField, path: "\(path).\(nestedField.name)", mode: mode, ignored: &ignored)
                    }
                } else {
                    try unknownProperty("\(path).\(name)", mode: mode, ignored: &ignored)
                }
            }
            return .subrecord(values)
        }
    }
}

extension FieldKind {
    /// What a value of this kind looks like, for error details.
    var expectation: String {
        switch self {
        case .string: "a string"
        case .number: "a number"
        case .boolean: "true or false"
        case .date: "a date (YYYY-MM-DD)"
        case .dateTime: "a date and time"
        case .reference: "an object with an id"
        case .enumeration: "an enum value"
        case .subrecord: "an object"
        }
    }
}
