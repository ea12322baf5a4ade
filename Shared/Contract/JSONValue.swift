import Foundation

/// Any JSON document, decoded without losing number precision (numbers are `Decimal`).
///
/// Billing payloads, command fields and the simulated APIs' records are free-form, so they are read
/// into this rather than into fixed types.
public enum JSONValue: Sendable, Hashable, Codable {
    case null
    case bool(Bool)
    case number(Decimal)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Decimal.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    /// Parses a request body; `nil` when it is not JSON.
    ///
    /// `keepingMembers` builds only the object members it accepts, given their depth (the top-level
    /// object's members are at 1) and key; the rest of the document is validated all the same. A reader
    /// that needs a few fields of a large body skips building the rest.
    public static func parse(
        _ data: some DataProtocol, keepingMembers keepMember: ((_ depth: Int, _ key: String) -> Bool)? = nil
    ) -> JSONValue? {
        let read = { (bytes: UnsafeBufferPointer<UInt8>) -> JSONValue? in try? JSONParser.parse(bytes, keepingMembers: keepMember) }
        if let contiguous = data.withContiguousStorageIfAvailable(read) { return contiguous }
        return Array(data).withUnsafeBufferPointer(read)
    }

    /// Compact JSON with sorted keys: equal values give equal bytes.
    public func encoded() -> Data {
        var bytes: [UInt8] = []
        write(into: &bytes)
        return Data(bytes)
    }

    /// Appends the value's compact, key-sorted JSON.
    public func write(into bytes: inout [UInt8]) {
        switch self {
        case .null: bytes += Array("null".utf8)
        case .bool(let flag): bytes += Array((flag ? "true" : "false").utf8)
        case .number(let number): Self.write(number, into: &bytes)
        case .string(let text): Self.write(text, into: &bytes)
        case .array(let items):
            bytes.append(UInt8(ascii: "["))
            for (offset, item) in items.enumerated() {
                if offset > 0 { bytes.append(UInt8(ascii: ",")) }
                item.write(into: &bytes)
            }
            bytes.append(UInt8(ascii: "]"))
        case .object(let members):
            bytes.append(UInt8(ascii: "{"))
            for (offset, key) in members.keys.sorted().enumerated() {
                if offset > 0 { bytes.append(UInt8(ascii: ",")) }
                Self.write(key, into: &bytes)
                bytes.append(UInt8(ascii: ":"))
                members[key]?.write(into: &bytes)
            }
            bytes.append(UInt8(ascii: "}"))
        }
    }

    /// The number as `Decimal.description` writes it (equal values keep giving equal bytes), built
    /// from its significand and exponent when the significand fits in 64 bits: about six times faster
    /// than `description`, and every message carries numbers.
    private static func write(_ number: Decimal, into bytes: inout [UInt8]) {
        if number.isZero {
            bytes.append(UInt8(ascii: "0"))
            return
        }
        let significand = number.significand
        let whole = number.isNaN ? 0 : NSDecimalNumber(decimal: significand).int64Value
        guard whole > 0, Decimal(whole) == significand else {
            bytes += Array(number.description.utf8)
            return
        }
        if number.sign == .minus { bytes.append(UInt8(ascii: "-")) }
        let digits = Array(String(whole).utf8)
        let exponent = number.exponent
        if exponent >= 0 {
            bytes += digits
            bytes += repeatElement(UInt8(ascii: "0"), count: exponent)
        } else if digits.count > -exponent {
            bytes += digits[..<(digits.count + exponent)]
            bytes.append(UInt8(ascii: "."))
            bytes += digits[(digits.count + exponent)...]
        } else {
            bytes += Array("0.".utf8)
            bytes += repeatElement(UInt8(ascii: "0"), count: -exponent - digits.count)
            bytes += digits
        }
    }

    private static func write(_ text: String, into bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
            case UInt8(ascii: "\\"): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case 0x0A: bytes += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            case 0x0D: bytes += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
            case 0x09: bytes += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
            case 0x08: bytes += [UInt8(ascii: "\\"), UInt8(ascii: "b")]
            case 0x0C: bytes += [UInt8(ascii: "\\"), UInt8(ascii: "f")]
            case 0x00..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                bytes += Array("\\u00".utf8) + [hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]]
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    public var objectValue: [String: JSONValue]? {
        if case .object(let value) = self { return value }
        return nil
    }

    public var arrayValue: [JSONValue]? {
        if case .array(let value) = self { return value }
        return nil
    }

    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    public var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    public subscript(key: String) -> JSONValue? {
        objectValue?[key]
    }

    public var numberValue: Decimal? {
        if case .number(let value) = self { return value }
        return nil
    }

    public var isNull: Bool { self == .null }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int) { self = .number(Decimal(value)) }
    public init(floatLiteral value: Double) { self = .number(Decimal(value)) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
    public init(nilLiteral: ()) { self = .null }
}

extension JSONValue {
    /// A copy with `value` at the dotted `path` (`apply.items.0.doc`); missing objects are created.
    public func setting(_ value: JSONValue, at path: String) -> JSONValue {
        setting(value, at: path.split(separator: ".").map(String.init)[...])
    }

    private func setting(_ value: JSONValue, at path: ArraySlice<String>) -> JSONValue {
        guard let head = path.first else { return value }
        switch self {
        case .array(var items):
            guard let index = Int(head), items.indices.contains(index) else { return self }
            items[index] = items[index].setting(value, at: path.dropFirst())
            return .array(items)
        case .object(var members):
            members[head] = (members[head] ?? .object([:])).setting(value, at: path.dropFirst())
            return .object(members)
        default:
            return JSONValue.object([:]).setting(value, at: path)
        }
    }
}
