import Contract
import Foundation

/// A target record built from a billing object by one mapping, before it becomes a command.
struct MappedRecord: Sendable, Hashable {
    var externalID: String
    var recordID: String?
    var documentNumber: String?
    var fields: [String: JSONValue]
    var references: [RecordReference]
    var replaceSublists: [String]
}

/// What one mapping makes of one billing object.
enum MappingOutcome: Sendable {
    case record(MappedRecord)
    /// A filter left the object out; the text says which.
    case filtered(String)
    /// The object cannot be mapped (`invalid_mapping`): a missing item, an unmapped enum value, a
    /// value of the wrong type.
    case failed(ProviderError)
}

/// Applies an `ObjectMapping` to a billing object. Pure: no I/O, no state.
struct RecordMapper {
    let mapping: ObjectMapping
    let items: ItemTable

    func map(_ object: JSONValue) -> MappingOutcome {
        let scope = SourceScope(root: object)
        if let reason = firstFailingFilter(mapping.filters, in: scope) { return .filtered(reason) }
        guard let externalID = scope.firstValue(mapping.externalID).textValue, !externalID.isEmpty else {
            return .failed(invalid("the object has no \(mapping.externalID.joined(separator: " or ")) for the external ID"))
        }
        do {
            var fields = try mapFields(mapping.fields, in: scope)
            var replace: [String] = []
            for sublist in mapping.sublists {
                var lines: [JSONValue] = []
                for line in sublist.lines {
                    lines += try mapLines(line, in: scope)
                }
                fields[sublist.target] = ["items": .array(lines)]
                if sublist.replace { replace.append(sublist.target) }
            }
            var references = references(mapping.references, in: scope, prefix: "")
            for sublist in mapping.sublists {
                var index = 0
                for line in sublist.lines {
                    for element in elements(of: line, in: scope) {
                        references += self.references(line.references, in: SourceScope(root: object, element: element), prefix: "\(sublist.target).items.\(index).")
                        index += 1
                    }
                }
            }
            return .record(MappedRecord(
                externalID: externalID,
                recordID: mapping.recordID.flatMap { scope.value(at: $0).textValue }.flatMap { $0.isEmpty ? nil : $0 },
                documentNumber: mapping.documentNumber.flatMap { scope.value(at: $0).textValue },
                fields: fields, references: references, replaceSublists: replace))
        } catch {
            return .failed(error)
        }
    }

    private func invalid(_ message: String) -> ProviderError {
        ProviderError(code: "invalid_mapping", message: "\(mapping.name) → \(mapping.target): \(message)")
    }

    private func firstFailingFilter(_ filters: [Filter], in scope: SourceScope) -> String? {
        for filter in filters where !filter.passes(scope.value(at: filter.path)) {
            return "filter on \(filter.path) (\(filter.test.summary)) left it out"
        }
        return nil
    }

    private func elements(of line: LineMapping, in scope: SourceScope) -> [JSONValue] {
        let candidates: [JSONValue] = line.each.map { scope.value(at: $0).arrayValue ?? [] } ?? [scope.root]
        return candidates.filter { element in firstFailingFilter(line.filters, in: SourceScope(root: scope.root, element: element)) == nil }
    }

    private func mapLines(_ line: LineMapping, in scope: SourceScope) throws(ProviderError) -> [JSONValue] {
        var lines: [JSONValue] = []
        for element in elements(of: line, in: scope) {
            let lineScope = SourceScope(root: scope.root, element: element)
            var fields = try mapFields(line.fields, in: lineScope)
            if let rule = line.item {
                let fee = line.feePath.map { lineScope.value(at: $0) } ?? element
                fields["item"] = ["id": .string(try item(for: rule, fee: fee))]
            }
            lines.append(.object(fields))
        }
        return lines
    }

    /// The NetSuite item of a line (Lago's resolution: one-to-one, default of the kind, fallback).
    private func item(for rule: ItemRule, fee element: JSONValue) throws(ProviderError) -> String {
        let kind: String
        var oneToOne: String?
        let label: String
        switch rule {
        case .kind(let name):
            kind = name
            label = name
        case .fee:
            let feeType = element["item"]?["type"]?.stringValue ?? ""
            let code = element["item"]?["code"]?.stringValue ?? ""
            label = "fee \(element["lago_id"]?.stringValue ?? "?") (\(feeType) \(code))"
            switch feeType {
            case "charge": kind = "billable_metric"; oneToOne = items.billableMetrics[code]
            case "add_on", "fixed_charge": kind = "add_on"; oneToOne = items.addOns[code]
            case "subscription": kind = "subscription_fee"
            case "commitment": kind = "minimum_commitment"
            case "credit": kind = "prepaid_credit"
            default: kind = feeType
            }
        }
        if let id = oneToOne ?? items.defaults[kind] ?? items.fallback { return id }
        throw invalid("no NetSuite item for \(label): map it under items, or set a default for \(kind) or a fallback item")
    }

    private func mapFields(_ fields: [FieldMapping], in scope: SourceScope) throws(ProviderError) -> [String: JSONValue] {
        var output: [String: JSONValue] = [:]
        for field in fields {
            let raw: JSONValue
            switch field.value {
            case .source(let paths): raw = scope.firstValue(paths)
            case .constant(let constant): raw = constant
            }
            var value = try convert(raw, with: field.converter, field: field, scope: scope)
            if let limit = field.maxLength, case .string(let text) = value, text.count > limit {
                value = .string(String(text.prefix(limit)))
            }
            if value.isNull && field.omitNull { continue }
            output[field.target] = value
        }
        return output
    }

    private func convert(_ raw: JSONValue, with converter: Converter?, field: FieldMapping, scope: SourceScope) throws(ProviderError) -> JSONValue {
        guard let converter else { return raw }
        if raw.isNull {
            if case .enumeration(_, let fallback) = converter, let fallback { return fallback }
            return .null
        }
        func wrongType(_ expected: String) -> ProviderError {
            invalid("\(field.target): \(String(decoding: raw.encoded(), as: UTF8.self)) is not \(expected)")
        }
        switch converter {
        case .cents(let currencyPath, let negate):
            guard let cents = Decimal(json: raw) else { throw wrongType("an amount in cents") }
            guard let currency = scope.value(at: currencyPath).stringValue else {
                throw invalid("\(field.target): no currency at \(currencyPath)")
            }
            // Moving the decimal point is exact; dividing by 10^exponent costs microseconds per amount.
            let amount = Decimal(sign: .plus, exponent: -CurrencyExponent.of(currency), significand: cents)
            return .number(negate ? -amount : amount)
        case .decimal(let negate):
            guard let number = Decimal(json: raw) else { throw wrongType("a number") }
            return .number(negate ? -number : number)
        case .date(let format):
            guard let text = raw.stringValue, let day = ISODate.day(of: text) else { throw wrongType("a date") }
            return .string(DateFormat.render(day, format: format))
        case .datetime:
            guard let text = raw.stringValue, let timestamp = ISODate.utcMilliseconds(text) else { throw wrongType("a timestamp") }
            return .string(timestamp)
        case .string:
            return raw.textValue.map(JSONValue.string) ?? .string(String(decoding: raw.encoded(), as: UTF8.self))
        case .boolean:
            switch raw {
            case .bool: return raw
            case .string(let text) where ["true", "false"].contains(text.lowercased()): return .bool(text.lowercased() == "true")
            case .number(let number): return .bool(number != 0)
            default: throw wrongType("true or false")
            }
        case .enumeration(let values, let fallback):
            guard let key = raw.textValue else { throw wrongType("an enum value") }
            if let mapped = values[key] ?? fallback { return mapped }
            throw invalid("\(field.target): no mapping for the value \(key)")
        case .netsuiteReference:
            guard let id = raw.textValue else { throw wrongType("an internal id") }
            return ["id": .string(id)]
        }
    }

    private func references(_ mappings: [ReferenceMapping], in scope: SourceScope, prefix: String) -> [RecordReference] {
        mappings.compactMap { reference in
            if let match = reference.match {
                return RecordReference(path: prefix + reference.path, object: reference.object, match: match, createOnly: reference.createOnly)
            }
            guard let id = scope.firstValue(reference.source).textValue, !id.isEmpty else { return nil }
            return RecordReference(
                path: prefix + reference.path, object: reference.object, externalIDField: reference.externalIDField,
                externalID: id, createOnly: reference.createOnly)
        }
    }
}

extension Filter {
    func passes(_ value: JSONValue) -> Bool {
        switch test {
        case .oneOf(let allowed): return allowed.contains(value)
        case .noneOf(let refused): return !refused.contains(value)
        case .atLeast(let minimum): return Decimal(json: value).map { $0 >= minimum } ?? false
        case .atMost(let maximum): return Decimal(json: value).map { $0 <= maximum } ?? false
        case .onOrAfter(let date): return value.stringValue.map { String($0.prefix(10)) >= date } ?? false
        case .onOrBefore(let date): return value.stringValue.map { String($0.prefix(10)) <= date } ?? false
        case .present(let wanted): return value.isNull != wanted
        }
    }
}

extension Filter.Test {
    var summary: String {
        func list(_ values: [JSONValue]) -> String { values.map { $0.textValue ?? "null" }.joined(separator: ", ") }
        switch self {
        case .oneOf(let values): return "in \(list(values))"
        case .noneOf(let values): return "not in \(list(values))"
        case .atLeast(let number): return "min \(number)"
        case .atMost(let number): return "max \(number)"
        case .onOrAfter(let date): return "from \(date)"
        case .onOrBefore(let date): return "to \(date)"
        case .present(let wanted): return wanted ? "present" : "absent"
        }
    }
}

extension JSONValue {
    /// Strings as they are, numbers and booleans as text; nil for null, arrays and objects.
    var textValue: String? {
        switch self {
        case .string(let text): text
        case .number(let number): "\(number)"
        case .bool(let flag): flag ? "true" : "false"
        default: nil
        }
    }
}
