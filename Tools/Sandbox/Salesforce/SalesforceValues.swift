import Contract
import Foundation
import SandboxCore

/// An error as Salesforce reports it, for a request or for one record of a collection.
public struct SalesforceError: Error, Sendable, Equatable {
    public var status: Int
    public let code: String
    public let message: String
    public let fields: [String]

    public init(_ code: String, _ message: String, fields: [String] = [], status: Int = 400) {
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields
    }

    /// Single-record REST calls use `errorCode`.
    var restBody: JSONValue {
        ["message": .string(message), "errorCode": .string(code), "fields": .array(fields.map(JSONValue.string))]
    }

    /// sObject Collections results use `statusCode`.
    var collectionBody: JSONValue {
        ["message": .string(message), "statusCode": .string(code), "fields": .array(fields.map(JSONValue.string))]
    }

    static func invalidField(_ name: String, object: String) -> SalesforceError {
        SalesforceError("INVALID_FIELD", "No such column '\(name)' on sobject of type \(object)")
    }

    static let notFound = SalesforceError("NOT_FOUND", "The requested resource does not exist", status: 404)
}

/// Conversions between JSON and stored field values, with Salesforce's wire formats.
enum SalesforceValues {
    /// Reads a JSON value into a field's type, or fails as Salesforce's JSON parser does.
    static func convert(_ json: JSONValue, for field: FieldSchema) throws(SalesforceError) -> FieldValue {
        if json == .null { return .null }
        func mismatch(_ type: String) -> SalesforceError {
            SalesforceError(
                "JSON_PARSER_ERROR",
                "Cannot deserialize instance of \(type) from \(token(of: json)) value \(text(of: json)) or request may be missing a required field",
                fields: [field.name])
        }
        switch field.type {
        case .string, .textarea, .email, .phone, .url, .picklist, .id, .reference:
            switch json {
            case .string(let text): return .string(text)
            case .number(let number): return .string("\(number)")
            case .bool(let flag): return .string(flag ? "true" : "false")
            default: throw mismatch("string")
            }
        case .boolean:
            switch json {
            case .bool(let flag): return .boolean(flag)
            case .string(let text) where ["true", "false"].contains(text.lowercased()): return .boolean(text.lowercased() == "true")
            default: throw mismatch("boolean")
            }
        case .int, .double, .currency, .percent:
            switch json {
            case .number(let number): return .number(number)
            case .string(let text):
                guard let number = Decimal(string: text, locale: Locale(identifier: "en_US_POSIX")), isNumeric(text) else {
                    throw mismatch("double")
                }
                return .number(number)
            default: throw mismatch("double")
            }
        case .date:
            guard case .string(let text) = json, let day = parseDate(text) else { throw mismatch("date") }
            return .date(day)
        case .datetime:
            guard case .string(let text) = json, let instant = parseDateTime(text) else { throw mismatch("datetime") }
            return .dateTime(instant)
        }
    }

    /// A stored value as the API returns it.
    static func json(_ value: FieldValue) -> JSONValue {
        switch value {
        case .null: .null
        case .string(let text): .string(text)
        case .number(let number): .number(number)
        case .boolean(let flag): .bool(flag)
        case .date(let day): .string(day)
        case .dateTime(let instant): .string(format(instant))
        }
    }

    /// `2024-01-01T00:00:00.000+0000`, the form Salesforce returns datetimes in.
    static func format(_ instant: Date) -> String {
        let milliseconds = Int64((instant.timeIntervalSince1970 * 1000).rounded(.down))
        var seconds = time_t(milliseconds / 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%03d+0000",
            Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
            Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), Int(milliseconds % 1000))
    }

    /// `YYYY-MM-DD`, a real calendar day.
    static func parseDate(_ text: String) -> String? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
            let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]),
            (1...12).contains(month), (1...daysIn(month: month, year: year)).contains(day)
        else { return nil }
        return text
    }

    /// ISO 8601 with an optional fraction and a `Z`, `±hh:mm` or `±hhmm` offset (none means UTC).
    static func parseDateTime(_ text: String) -> Date? {
        guard let separator = text.firstIndex(where: { $0 == "T" || $0 == "t" }),
            let day = parseDate(String(text[..<separator]))
        else { return nil }
        var rest = Substring(text[text.index(after: separator)...])
        var offsetSeconds = 0
        if rest.hasSuffix("Z") || rest.hasSuffix("z") {
            rest = rest.dropLast()
        } else if let sign = rest.lastIndex(where: { $0 == "+" || $0 == "-" }) {
            let offset = rest[rest.index(after: sign)...].replacingOccurrences(of: ":", with: "")
            guard offset.count == 4, let hours = Int(offset.prefix(2)), let minutes = Int(offset.suffix(2)), hours < 24, minutes < 60 else {
                return nil
            }
            offsetSeconds = (hours * 3600 + minutes * 60) * (rest[sign] == "-" ? -1 : 1)
            rest = rest[..<sign]
        }
        var fraction = 0.0
        if let dot = rest.firstIndex(of: ".") {
            let digits = rest[rest.index(after: dot)...]
            guard !digits.isEmpty, digits.count <= 9, digits.allSatisfy(\.isNumber), let value = Double("0." + digits) else { return nil }
            fraction = value
            rest = rest[..<dot]
        }
        let clock = rest.split(separator: ":", omittingEmptySubsequences: false)
        guard (2...3).contains(clock.count), clock.allSatisfy({ $0.count == 2 && $0.allSatisfy(\.isNumber) }),
            let hour = Int(clock[0]), let minute = Int(clock[1]), hour < 24, minute < 60
        else { return nil }
        let second = clock.count == 3 ? Int(clock[2]) ?? 60 : 0
        guard second < 60 else { return nil }
        let dayParts = day.split(separator: "-").compactMap { Int($0) }
        let days = daysFromEpoch(year: dayParts[0], month: dayParts[1], day: dayParts[2])
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offsetSeconds
        return Date(timeIntervalSince1970: Double(seconds) + fraction)
    }

    private static func isNumeric(_ text: String) -> Bool {
        let trimmed = text.hasPrefix("-") || text.hasPrefix("+") ? text.dropFirst() : Substring(text)
        let pieces = trimmed.split(separator: ".", omittingEmptySubsequences: false)
        return !trimmed.isEmpty && pieces.count <= 2 && pieces.allSatisfy { $0.allSatisfy(\.isNumber) } && pieces.contains { !$0.isEmpty }
    }

    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days since 1970-01-01 in the proleptic Gregorian calendar.
    private static func daysFromEpoch(year: Int, month: Int, day: Int) -> Int {
        let shiftedYear = month <= 2 ? year - 1 : year
        let era = (shiftedYear >= 0 ? shiftedYear : shiftedYear - 399) / 400
        let yearOfEra = shiftedYear - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    private static func token(of json: JSONValue) -> String {
        switch json {
        case .string: "VALUE_STRING"
        case .number: "VALUE_NUMBER"
        case .bool(let flag): flag ? "VALUE_TRUE" : "VALUE_FALSE"
        case .array: "START_ARRAY"
        case .object: "START_OBJECT"
        case .null: "VALUE_NULL"
        }
    }

    private static func text(of json: JSONValue) -> String {
        switch json {
        case .string(let text): text
        case .number(let number): "\(number)"
        case .bool(let flag): "\(flag)"
        default: String(decoding: json.encoded(), as: UTF8.self)
        }
    }
}
