import Foundation

/// A Salesforce field value as the sandbox stores it.
public enum FieldValue: Sendable, Hashable {
    case null
    case string(String)        // text, textarea, picklist, email, phone, url, id, reference
    case number(Decimal)       // int, double, currency, percent
    case boolean(Bool)
    case date(String)          // "YYYY-MM-DD" (lexicographic order is chronological)
    case dateTime(Date)
}

extension FieldValue {
    /// The value written as a SOQL literal.
    var soqlLiteral: String {
        switch self {
        case .null: "null"
        case .string(let text): "'\(soqlEscaped(text, escapingWildcards: false))'"
        case .number(let number): "\(number)"
        case .boolean(let flag): flag ? "true" : "false"
        case .date(let day): day
        case .dateTime(let instant): soqlDateTimeLiteral(instant)
        }
    }
}

/// Escapes text for use between single quotes; a LIKE pattern also escapes its literal `%` and `_`.
func soqlEscaped(_ text: String, escapingWildcards: Bool) -> String {
    var escaped = ""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\\": escaped += "\\\\"
        case "'": escaped += "\\'"
        case "\n": escaped += "\\n"
        case "\r": escaped += "\\r"
        case "\t": escaped += "\\t"
        case "\u{08}": escaped += "\\b"
        case "\u{0C}": escaped += "\\f"
        case "%" where escapingWildcards: escaped += "\\%"
        case "_" where escapingWildcards: escaped += "\\_"
        default: escaped.unicodeScalars.append(scalar)
        }
    }
    return escaped
}

/// Formats an instant as `YYYY-MM-DDThh:mm:ss.SSSZ`.
private func soqlDateTimeLiteral(_ instant: Date) -> String {
    // Whole milliseconds are split off first: formatting the raw Double would truncate .123 to .122.
    let milliseconds = (instant.timeIntervalSince1970 * 1000).rounded()
    let wholeSeconds = (milliseconds / 1000).rounded(.down)
    let fraction = Int(milliseconds - wholeSeconds * 1000)
    let secondsText = Date(timeIntervalSince1970: wholeSeconds).formatted(.iso8601).dropLast()  // drops the "Z"
    let fractionText = String(fraction)
    return "\(secondsText).\(String(repeating: "0", count: 3 - fractionText.count))\(fractionText)Z"
}
