import Contract
import Foundation

/// A JSON document whose every value knows the line it starts on, so a mistake in a mapping file can
/// be reported as `file:line`. Foundation's decoders do not keep positions.
struct LocatedJSON: Sendable {
    enum Value: Sendable {
        case null
        case bool(Bool)
        case number(Decimal)
        case string(String)
        case array([LocatedJSON])
        /// Members in file order; a key given twice is a parse error.
        case object([(key: String, value: LocatedJSON)])
    }

    let value: Value
    let line: Int

    /// The plain value, positions dropped.
    var plain: JSONValue {
        switch value {
        case .null: .null
        case .bool(let flag): .bool(flag)
        case .number(let number): .number(number)
        case .string(let text): .string(text)
        case .array(let items): .array(items.map(\.plain))
        case .object(let members): .object(Dictionary(members.map { ($0.key, $0.value.plain) }, uniquingKeysWith: { _, last in last }))
        }
    }

    static func parse(_ text: String) throws(LocatedJSONError) -> LocatedJSON {
        var parser = Parser(bytes: Array(text.utf8))
        parser.skipWhitespace()
        let value = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        guard parser.index == parser.bytes.count else { throw parser.error("unexpected text after the JSON value") }
        return value
    }
}

struct LocatedJSONError: Error, Sendable {
    let line: Int
    let message: String
}

private struct Parser {
    let bytes: [UInt8]
    var index = 0
    var line = 1

    init(bytes: [UInt8]) { self.bytes = bytes }

    func error(_ message: String) -> LocatedJSONError { LocatedJSONError(line: line, message: message) }

    mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "\n"): line += 1
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"): break
            default: return
            }
            index += 1
        }
    }

    mutating func parseValue(depth: Int) throws(LocatedJSONError) -> LocatedJSON {
        guard depth < 64 else { throw error("nesting deeper than 64 levels") }
        guard index < bytes.count else { throw error("unexpected end of file") }
        let startLine = line
        switch bytes[index] {
        case UInt8(ascii: "{"):
            index += 1
            var members: [(key: String, value: LocatedJSON)] = []
            skipWhitespace()
            if peek(UInt8(ascii: "}")) { index += 1; return LocatedJSON(value: .object(members), line: startLine) }
            while true {
                skipWhitespace()
                guard peek(UInt8(ascii: "\"")) else { throw error("expected a quoted key") }
                let key = try parseString()
                if members.contains(where: { $0.key == key }) { throw error("key \"\(key)\" appears twice") }
                skipWhitespace()
                try expect(UInt8(ascii: ":"))
                skipWhitespace()
                members.append((key, try parseValue(depth: depth + 1)))
                skipWhitespace()
                if peek(UInt8(ascii: ",")) { index += 1; continue }
                try expect(UInt8(ascii: "}"))
                return LocatedJSON(value: .object(members), line: startLine)
            }
        case UInt8(ascii: "["):
            index += 1
            var items: [LocatedJSON] = []
            skipWhitespace()
            if peek(UInt8(ascii: "]")) { index += 1; return LocatedJSON(value: .array(items), line: startLine) }
            while true {
                skipWhitespace()
                items.append(try parseValue(depth: depth + 1))
                skipWhitespace()
                if peek(UInt8(ascii: ",")) { index += 1; continue }
                try expect(UInt8(ascii: "]"))
                return LocatedJSON(value: .array(items), line: startLine)
            }
        case UInt8(ascii: "\""):
            return LocatedJSON(value: .string(try parseString()), line: startLine)
        case UInt8(ascii: "t"):
            try literal("true")
            return LocatedJSON(value: .bool(true), line: startLine)
        case UInt8(ascii: "f"):
            try literal("false")
            return LocatedJSON(value: .bool(false), line: startLine)
        case UInt8(ascii: "n"):
            try literal("null")
            return LocatedJSON(value: .null, line: startLine)
        default:
            return LocatedJSON(value: .number(try parseNumber()), line: startLine)
        }
    }

    func peek(_ byte: UInt8) -> Bool { index < bytes.count && bytes[index] == byte }

    mutating func expect(_ byte: UInt8) throws(LocatedJSONError) {
        guard peek(byte) else { throw error("expected '\(Character(UnicodeScalar(byte)))'") }
        index += 1
    }

    mutating func literal(_ word: String) throws(LocatedJSONError) {
        let expected = Array(word.utf8)
        guard index + expected.count <= bytes.count, Array(bytes[index..<index + expected.count]) == expected else {
            throw error("unexpected character; expected a JSON value")
        }
        index += expected.count
    }

    mutating func parseNumber() throws(LocatedJSONError) -> Decimal {
        let start = index
        let allowed = Set("+-0123456789.eE".utf8)
        while index < bytes.count, allowed.contains(bytes[index]) { index += 1 }
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        guard !text.isEmpty, let number = Decimal(string: text, locale: Locale(identifier: "en_US_POSIX")),
            text.first != "+", Double(text) != nil
        else { throw error(text.isEmpty ? "unexpected character; expected a JSON value" : "\(text) is not a number") }
        return number
    }

    mutating func parseString() throws(LocatedJSONError) -> String {
        index += 1  // opening quote
        var scalars = String.UnicodeScalarView()
        var raw: [UInt8] = []
        func flush() { scalars.append(contentsOf: String(decoding: raw, as: UTF8.self).unicodeScalars); raw.removeAll() }
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                flush()
                return String(scalars)
            case UInt8(ascii: "\n"):
                throw error("line break inside a string")
            case UInt8(ascii: "\\"):
                guard index < bytes.count else { break }
                let escaped = bytes[index]
                index += 1
                switch escaped {
                case UInt8(ascii: "n"): raw.append(10)
                case UInt8(ascii: "t"): raw.append(9)
                case UInt8(ascii: "r"): raw.append(13)
                case UInt8(ascii: "b"): raw.append(8)
                case UInt8(ascii: "f"): raw.append(12)
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): raw.append(escaped)
                case UInt8(ascii: "u"):
                    guard index + 4 <= bytes.count,
                        let code = UInt32(String(decoding: bytes[index..<index + 4], as: UTF8.self), radix: 16)
                    else { throw error("bad \\u escape") }
                    index += 4
                    flush()
                    scalars.append(UnicodeScalar(code) ?? "\u{FFFD}")
                default:
                    throw error("bad escape \\\(Character(UnicodeScalar(escaped)))")
                }
            default:
                raw.append(byte)
            }
        }
        throw error("unterminated string")
    }
}
