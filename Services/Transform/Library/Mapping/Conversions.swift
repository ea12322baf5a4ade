import Contract
import Foundation

/// Looks up dotted paths in billing objects: `customer.lago_id`, `fees.0.amount_cents`. In a line,
/// `$.` starts from the whole object instead of the line's element.
struct SourceScope {
    let root: JSONValue
    let element: JSONValue

    init(root: JSONValue, element: JSONValue? = nil) {
        self.root = root
        self.element = element ?? root
    }

    /// Walks the path in place rather than splitting it: this runs for every field of every record.
    func value(at path: String) -> JSONValue {
        var current = element
        var start = path.startIndex
        var first = true
        while true {
            let end = path[start...].firstIndex(of: ".") ?? path.endIndex
            let segment = path[start..<end]
            if first, segment == "$" {
                current = root
            } else {
                switch current {
                case .object(let members): current = members[String(segment)] ?? .null
                case .array(let items):
                    guard let index = Int(segment), items.indices.contains(index) else { return .null }
                    current = items[index]
                default: return .null
                }
            }
            guard end < path.endIndex else { return current }
            first = false
            start = path.index(after: end)
        }
    }

    /// The first of `paths` whose value is neither null nor an empty string.
    func firstValue(_ paths: [String]) -> JSONValue {
        for path in paths {
            let found = value(at: path)
            if !found.isNull && found != "" { return found }
        }
        return .null
    }
}

/// ISO 8601 dates and timestamps as Lago sends them: `2025-04-01`, `2025-04-01T00:05:12Z`,
/// `2025-03-05T00:00:00.000Z`, `2025-04-01T00:00:00+00:00`.
enum ISODate {
    /// `(year, month, day)` of a date or timestamp, in the timestamp's own offset.
    static func day(of text: String) -> (year: Int, month: Int, day: Int)? {
        let parts = text.prefix(10).split(separator: "-")
        guard parts.count == 3, let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]),
            parts[0].count == 4, (1...12).contains(month), (1...31).contains(day)
        else { return nil }
        return (year, month, day)
    }

    /// Seconds since 1970 of a timestamp or date (midnight UTC).
    static func seconds(of text: String) -> Double? {
        if text.count == 10 {
            return parse(text + "T00:00:00Z")
        }
        return parse(text)
    }

    /// The timestamp in UTC with milliseconds: `2025-04-01T00:05:12.000Z`.
    static func utcMilliseconds(_ text: String) -> String? {
        guard let seconds = seconds(of: text) else { return nil }
        return Date(timeIntervalSince1970: seconds).formatted(
            Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt))
    }

    private static func parse(_ text: String) -> Double? {
        if let date = try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)) {
            return date.timeIntervalSince1970
        }
        return (try? Date(text, strategy: Date.ISO8601FormatStyle()))?.timeIntervalSince1970
    }
}

/// Date patterns of mapping files: `yyyy`, `MM`, `M`, `dd`, `d`, anything else copied.
enum DateFormat {
    static func isValid(_ format: String) -> Bool {
        format.contains("yyyy") && format.contains("M") && format.contains("d")
    }

    static func render(_ day: (year: Int, month: Int, day: Int), format: String) -> String {
        var output = ""
        var rest = Substring(format)
        func padded(_ number: Int, to width: Int) -> String {
            let digits = String(number)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        let tokens: [(String, String)] = [
            ("yyyy", padded(day.year, to: 4)), ("MM", padded(day.month, to: 2)),
            ("dd", padded(day.day, to: 2)), ("M", String(day.month)), ("d", String(day.day)),
        ]
        outer: while let first = rest.first {
            for (token, value) in tokens where rest.hasPrefix(token) {
                output += value
                rest = rest.dropFirst(token.count)
                continue outer
            }
            output.append(first)
            rest = rest.dropFirst()
        }
        return output
    }
}

/// ISO 4217 minor-unit exponents that differ from 2.
enum CurrencyExponent {
    private static let exceptions: [String: Int] = [
        "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0, "RWF": 0,
        "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
        "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3, "CLF": 4, "UYW": 4,
    ]

    static func of(_ currency: String) -> Int { exceptions[currency.uppercased()] ?? 2 }
}

extension Decimal {
    /// A decimal from a JSON number or a numeric string (Lago sends BigDecimals as strings).
    init?(json: JSONValue) {
        switch json {
        case .number(let number): self = number
        case .string(let text):
            guard let number = Decimal(string: text, locale: Locale(identifier: "en_US_POSIX")), Double(text) != nil else { return nil }
            self = number
        default: return nil
        }
    }
}
