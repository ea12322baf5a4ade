import Contract
import Foundation
import SandboxCore

/// A stored field value, typed by its field.
enum FieldValue: Sendable, Equatable {
    case text(String)
    case number(Decimal)
    case boolean(Bool)
    /// `YYYY-MM-DD`.
    case date(String)
    case dateTime(Date)
    case reference(RecordKey)
    /// An enum value's `id`.
    case option(String)
    case subrecord([String: FieldValue])

    /// A value from the schema file (a default), checked against the field's kind. References are not
    /// resolved here: the seed records are written through the normal validation.
    static func literal(_ json: JSONValue, for kind: FieldKind) -> FieldValue? {
        switch (kind, json) {
        case (.string, .string(let text)): return .text(text)
        case (.number, .number(let number)): return .number(number)
        case (.boolean, .bool(let flag)): return .boolean(flag)
        case (.date, .string(let text)) where CalendarDate.isValid(text): return .date(text)
        case (.enumeration(let options), .string(let id)) where options.contains(where: { $0.id == id }): return .option(id)
        case (.reference(let targets), .object(let object)) where targets.count == 1:
            guard let id = object["id"].flatMap(InternalId.parse) else { return nil }
            return .reference(RecordKey(type: targets[0], id: id))
        default: return nil
        }
    }

    var decimal: Decimal? {
        if case .number(let value) = self { return value }
        return nil
    }

    var reference: RecordKey? {
        if case .reference(let key) = self { return key }
        return nil
    }

    var flag: Bool? {
        if case .boolean(let value) = self { return value }
        return nil
    }

    /// Whether the value equals a JSON literal, as written in the schema (`requiredWhen`) or a query.
    func matches(_ json: JSONValue) -> Bool {
        switch (self, json) {
        case (.text(let text), .string(let other)): text.caseInsensitiveCompare(other) == .orderedSame
        case (.number(let number), .number(let other)): number == other
        case (.number(let number), .string(let other)): Decimal(string: other).map { $0 == number } ?? false
        case (.boolean(let flag), .bool(let other)): flag == other
        case (.boolean(let flag), .string(let other)): other.lowercased() == (flag ? "true" : "false") || other == (flag ? "T" : "F")
        case (.date(let text), .string(let other)): text == other
        case (.reference(let key), .string(let other)): InternalId.parse(.string(other)) == key.id
        case (.reference(let key), .number(let other)): Decimal(key.id) == other
        case (.option(let id), .string(let other)): id.caseInsensitiveCompare(other) == .orderedSame
        default: false
        }
    }
}

/// A record's identity: its canonical type name and internal ID.
struct RecordKey: Hashable, Sendable {
    let type: String
    let id: Int
}

enum InternalId {
    /// An internal ID as clients send it: `"12"` or `12`. Nil for anything else.
    static func parse(_ json: JSONValue) -> Int? {
        switch json {
        case .string(let text): parse(text)
        case .number(let number):
            number >= 1 && number <= Decimal(Int32.max) && Money.round(number, places: 0) == number ? NSDecimalNumber(decimal: number).intValue : nil
        default: nil
        }
    }

    static func parse(_ text: some StringProtocol) -> Int? {
        guard !text.isEmpty, text.count <= 10, text.allSatisfy(\.isASCII), text.allSatisfy(\.isNumber), let id = Int(text), id >= 1 else {
            return nil
        }
        return id
    }
}

enum ExternalId {
    /// NetSuite external IDs: letters, digits, `_` and `-` (a `|` breaks URL parsing, for instance).
    static func isValid(_ text: String) -> Bool {
        !text.isEmpty && text.count <= 255 && text.unicodeScalars.allSatisfy { scalar in
            scalar.isASCII && (CharacterSet.alphanumerics.contains(scalar) || scalar == "_" || scalar == "-")
        }
    }
}

enum CalendarDate {
    private static let calendar: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? calendar.timeZone
        return calendar
    }()

    /// Whether `text` is a real date written `YYYY-MM-DD`.
    static func isValid(_ text: String) -> Bool {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
            parts.allSatisfy({ $0.allSatisfy { $0.isASCII && $0.isNumber } }),
            let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]), year >= 1, (1...12).contains(month)
        else { return false }
        let components = DateComponents(year: year, month: month)
        guard let first = calendar.date(from: components), let days = calendar.range(of: .day, in: .month, for: first) else { return false }
        return days.contains(day)
    }

    static func today(_ now: Date) -> String {
        let parts = calendar.dateComponents([.year, .month, .day], from: now)
        return String(format: "%04d-%02d-%02d", parts.year ?? 1970, parts.month ?? 1, parts.day ?? 1)
    }
}

enum Money {
    /// Amounts in the currency's precision (two decimals for the sandbox's currencies).
    static func round(_ value: Decimal, places: Int = 2) -> Decimal {
        var input = value
        var result = Decimal()
        NSDecimalRound(&result, &input, places, .plain)
        return result
    }
}
