import Foundation

/// Encodes `Codable` values to `JSONValue` and decodes them from it, with no text in between.
/// Foundation's JSON coders were a third of the CPU the services spent per message: they rebuild every
/// `JSONValue` member by trial decoding, and go through text both ways. Here `JSONValue` members pass
/// through as they are, and the bytes are read by `JSONParser` and written by `JSONValue.write(into:)`.
///
/// The coders behave like Foundation's for the types messages use: strings, booleans, integers,
/// `Double`, `Decimal` (as a JSON number), optionals (absent when nil), arrays, dictionaries with
/// string keys, and nested `Codable` types. Errors are the same `DecodingError`s, with the same coding
/// paths, so `MessageContract` names the offending field in the same words.
public enum JSONValueCoding {
    public static func encode(_ value: some Encodable) throws -> JSONValue {
        try EncodingSlot.make(value, codingPath: []).resolved
    }

    public static func decode<Value: Decodable>(_ type: Value.Type, from json: JSONValue) throws -> Value {
        try ValueDecoder.unbox(json, as: type, codingPath: [])
    }

    /// The compact JSON of `value`, with sorted keys.
    public static func encodedBytes(_ value: some Encodable) throws -> [UInt8] {
        var bytes: [UInt8] = []
        try encode(value).write(into: &bytes)
        return bytes
    }

    /// Parses `bytes` and decodes them; not JSON is `DecodingError.dataCorrupted` at the top level.
    public static func decode<Value: Decodable>(_ type: Value.Type, from bytes: [UInt8]) throws -> Value {
        let json: JSONValue
        do {
            json = try bytes.withUnsafeBufferPointer { try JSONParser.parse($0) }
        } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "\(error)", underlyingError: error))
        }
        return try decode(type, from: json)
    }
}

// MARK: Encoding

/// A value being encoded: finished, or a container still being filled by the value's `encode(to:)`.
private enum EncodingSlot {
    case value(JSONValue)
    case object(ObjectBuffer)
    case array(ArrayBuffer)
    case encoder(ValueEncoder)

    var resolved: JSONValue {
        switch self {
        case .value(let value): value
        case .object(let object): .object(object.members.mapValues(\.resolved))
        case .array(let array): .array(array.items.map(\.resolved))
        // A value that encoded nothing is an empty object, as with Foundation's encoder.
        case .encoder(let encoder): encoder.slot?.resolved ?? .object([:])
        }
    }

    static func make(_ value: some Encodable, codingPath: [any CodingKey]) throws -> EncodingSlot {
        switch value {
        case let json as JSONValue: return .value(json)
        case let text as String: return .value(.string(text))
        case let flag as Bool: return .value(.bool(flag))
        case let number as Decimal: return .value(.number(number))
        case let number as Int: return .value(.number(Decimal(number)))
        case let number as Double: return .value(try ValueEncoder.number(number, codingPath: codingPath))
        case let members as [String: JSONValue]: return .value(.object(members))
        default:
            let encoder = ValueEncoder(codingPath: codingPath)
            try value.encode(to: encoder)
            return .encoder(encoder)
        }
    }
}

private final class ObjectBuffer {
    var members: [String: EncodingSlot] = [:]
}

private final class ArrayBuffer {
    var items: [EncodingSlot] = []
}

private final class ValueEncoder: Encoder {
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }
    var slot: EncodingSlot?

    init(codingPath: [any CodingKey]) {
        self.codingPath = codingPath
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        let object: ObjectBuffer
        if case .object(let existing)? = slot {
            object = existing
        } else {
            object = ObjectBuffer()
            slot = .object(object)
        }
        return KeyedEncodingContainer(KeyedEncoder<Key>(object: object, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        let array: ArrayBuffer
        if case .array(let existing)? = slot {
            array = existing
        } else {
            array = ArrayBuffer()
            slot = .array(array)
        }
        return UnkeyedEncoder(array: array, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { SingleValueEncoder(encoder: self) }

    static func number(_ value: Double, codingPath: [any CodingKey]) throws -> JSONValue {
        guard value.isFinite, let number = Decimal(string: "\(value)") else {
            throw EncodingError.invalidValue(value, .init(codingPath: codingPath, debugDescription: "\(value) is not a JSON number"))
        }
        return .number(number)
    }

    static func integer(_ value: some BinaryInteger) -> JSONValue {
        .number(Decimal(string: "\(value)") ?? 0)
    }
}

private struct KeyedEncoder<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let object: ObjectBuffer
    let codingPath: [any CodingKey]

    mutating func encodeNil(forKey key: Key) throws { object.members[key.stringValue] = .value(.null) }
    mutating func encode(_ value: Bool, forKey key: Key) throws { object.members[key.stringValue] = .value(.bool(value)) }
    mutating func encode(_ value: String, forKey key: Key) throws { object.members[key.stringValue] = .value(.string(value)) }
    mutating func encode(_ value: Double, forKey key: Key) throws {
        object.members[key.stringValue] = .value(try ValueEncoder.number(value, codingPath: codingPath + [key]))
    }
    mutating func encode(_ value: Float, forKey key: Key) throws { try encode(Double(value), forKey: key) }
    mutating func encode(_ value: Int, forKey key: Key) throws { object.members[key.stringValue] = .value(ValueEncoder.integer(value)) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { object.members[key.stringValue] = .value(ValueEncoder.integer(value)) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { object.members[key.stringValue] = .value(ValueEncoder.integer(value)) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { object.members[key.stringValue] = .value(ValueEncoder.integer(value)) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { object.members[key.stringValue] = .value(ValueEncoder.integer(value)) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { object.members[key.stringValue] = .value(ValueEncoder.integer(value)) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { object.members[key.stringValue] = .value(ValueEncoder.integer(value)) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { object.members[key.stringValue] = .value(ValueEncoder.integer(value)) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { object.members[key.stringValue] = .value(ValueEncoder.integer(value)) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { object.members[key.stringValue] = .value(ValueEncoder.integer(value)) }
    mutating func encode(_ value: some Encodable, forKey key: Key) throws {
        object.members[key.stringValue] = try EncodingSlot.make(value, codingPath: codingPath + [key])
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        let nested = ObjectBuffer()
        object.members[key.stringValue] = .object(nested)
        return KeyedEncodingContainer(KeyedEncoder<NestedKey>(object: nested, codingPath: codingPath + [key]))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let nested = ArrayBuffer()
        object.members[key.stringValue] = .array(nested)
        return UnkeyedEncoder(array: nested, codingPath: codingPath + [key])
    }

    mutating func superEncoder() -> any Encoder { superEncoder(forKey: Key(stringValue: "super")!) }

    mutating func superEncoder(forKey key: Key) -> any Encoder {
        let encoder = ValueEncoder(codingPath: codingPath + [key])
        object.members[key.stringValue] = .encoder(encoder)
        return encoder
    }
}

private struct UnkeyedEncoder: UnkeyedEncodingContainer {
    let array: ArrayBuffer
    let codingPath: [any CodingKey]
    var count: Int { array.items.count }

    private var nextPath: [any CodingKey] { codingPath + [IndexKey(array.items.count)] }

    mutating func encodeNil() throws { array.items.append(.value(.null)) }
    mutating func encode(_ value: some Encodable) throws { array.items.append(try EncodingSlot.make(value, codingPath: nextPath)) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let nested = ObjectBuffer()
        let path = nextPath
        array.items.append(.object(nested))
        return KeyedEncodingContainer(KeyedEncoder<NestedKey>(object: nested, codingPath: path))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let nested = ArrayBuffer()
        let path = nextPath
        array.items.append(.array(nested))
        return UnkeyedEncoder(array: nested, codingPath: path)
    }

    mutating func superEncoder() -> any Encoder {
        let encoder = ValueEncoder(codingPath: nextPath)
        array.items.append(.encoder(encoder))
        return encoder
    }
}

private struct SingleValueEncoder: SingleValueEncodingContainer {
    let encoder: ValueEncoder
    var codingPath: [any CodingKey] { encoder.codingPath }

    mutating func encodeNil() throws { encoder.slot = .value(.null) }
    mutating func encode(_ value: some Encodable) throws { encoder.slot = try EncodingSlot.make(value, codingPath: codingPath) }
}

// MARK: Decoding

private struct ValueDecoder: Decoder {
    let value: JSONValue
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    init(_ value: JSONValue, codingPath: [any CodingKey]) {
        self.value = value
        self.codingPath = codingPath
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .object(let members) = value else { throw Self.mismatch([String: Any].self, value, codingPath) }
        return KeyedDecodingContainer(KeyedDecoder<Key>(members: members, codingPath: codingPath))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .array(let items) = value else { throw Self.mismatch([Any].self, value, codingPath) }
        return UnkeyedDecoder(items: items, codingPath: codingPath)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { SingleValueDecoder(value: value, codingPath: codingPath) }

    /// `value` as `type`: JSON values and scalars directly, everything else through its `init(from:)`.
    static func unbox<Value: Decodable>(_ value: JSONValue, as type: Value.Type, codingPath: [any CodingKey]) throws -> Value {
        if type == JSONValue.self { return value as! Value }
        if case .null = value, type != JSONValue.self {
            // Only `Optional` and `JSONValue` take null; Optional's decoding asks `decodeNil` first.
            if !(type is any ExpressibleByNilLiteral.Type) {
                throw DecodingError.valueNotFound(type, .init(codingPath: codingPath, debugDescription: "Expected \(type) value but found null instead."))
            }
        }
        switch type {
        case is String.Type:
            guard case .string(let text) = value else { throw mismatch(type, value, codingPath) }
            return text as! Value
        case is Bool.Type:
            guard case .bool(let flag) = value else { throw mismatch(type, value, codingPath) }
            return flag as! Value
        case is Decimal.Type:
            guard case .number(let number) = value else { throw mismatch(type, value, codingPath) }
            return number as! Value
        case is Int.Type:
            return try integer(value, as: Int.self, codingPath: codingPath) as! Value
        case is Int64.Type:
            return try integer(value, as: Int64.self, codingPath: codingPath) as! Value
        case is Int32.Type:
            return try integer(value, as: Int32.self, codingPath: codingPath) as! Value
        case is Double.Type:
            guard case .number(let number) = value else { throw mismatch(type, value, codingPath) }
            return (Double("\(number)") ?? .nan) as! Value
        case is [String: JSONValue].Type:
            guard case .object(let members) = value else { throw mismatch(type, value, codingPath) }
            return members as! Value
        default:
            return try Value(from: ValueDecoder(value, codingPath: codingPath))
        }
    }

    static func integer<Integer: FixedWidthInteger>(_ value: JSONValue, as type: Integer.Type, codingPath: [any CodingKey]) throws -> Integer {
        guard case .number(let number) = value else { throw mismatch(type, value, codingPath) }
        guard let integer = Integer("\(number)") else {
            throw DecodingError.dataCorrupted(.init(codingPath: codingPath, debugDescription: "Number \(number) does not fit in \(type)."))
        }
        return integer
    }

    static func mismatch(_ type: Any.Type, _ value: JSONValue, _ codingPath: [any CodingKey]) -> DecodingError {
        let found = switch value {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
        return DecodingError.typeMismatch(type, .init(codingPath: codingPath, debugDescription: "Expected to decode \(type) but found \(found) instead."))
    }
}

private struct KeyedDecoder<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let members: [String: JSONValue]
    let codingPath: [any CodingKey]

    var allKeys: [Key] { members.keys.compactMap { Key(stringValue: $0) } }

    func contains(_ key: Key) -> Bool { members[key.stringValue] != nil }

    private func member(_ key: Key) throws -> JSONValue {
        guard let value = members[key.stringValue] else {
            throw DecodingError.keyNotFound(
                key, .init(codingPath: codingPath, debugDescription: "No value associated with key \(key.stringValue)."))
        }
        return value
    }

    func decodeNil(forKey key: Key) throws -> Bool { try member(key) == .null }

    func decode<Value: Decodable>(_ type: Value.Type, forKey key: Key) throws -> Value {
        let path = codingPath + [key]
        return try ValueDecoder.unbox(try member(key), as: type, codingPath: path)
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        try ValueDecoder(try member(key), codingPath: codingPath + [key]).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try ValueDecoder(try member(key), codingPath: codingPath + [key]).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder { ValueDecoder(members["super"] ?? .null, codingPath: codingPath) }

    func superDecoder(forKey key: Key) throws -> any Decoder { ValueDecoder(members[key.stringValue] ?? .null, codingPath: codingPath + [key]) }
}

private struct UnkeyedDecoder: UnkeyedDecodingContainer {
    let items: [JSONValue]
    let codingPath: [any CodingKey]
    var currentIndex = 0

    init(items: [JSONValue], codingPath: [any CodingKey]) {
        self.items = items
        self.codingPath = codingPath
    }

    var count: Int? { items.count }
    var isAtEnd: Bool { currentIndex >= items.count }

    private var currentPath: [any CodingKey] { codingPath + [IndexKey(currentIndex)] }

    private func current(_ type: Any.Type) throws -> JSONValue {
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(type, .init(codingPath: currentPath, debugDescription: "Unkeyed container is at end."))
        }
        return items[currentIndex]
    }

    mutating func decodeNil() throws -> Bool {
        guard try current(Any?.self) == .null else { return false }
        currentIndex += 1
        return true
    }

    mutating func decode<Value: Decodable>(_ type: Value.Type) throws -> Value {
        let path = currentPath
        let value = try ValueDecoder.unbox(try current(type), as: type, codingPath: path)
        currentIndex += 1
        return value
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        let container = try ValueDecoder(try current([String: Any].self), codingPath: currentPath).container(keyedBy: type)
        currentIndex += 1
        return container
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        let container = try ValueDecoder(try current([Any].self), codingPath: currentPath).unkeyedContainer()
        currentIndex += 1
        return container
    }

    mutating func superDecoder() throws -> any Decoder {
        let decoder = ValueDecoder(try current(Any.self), codingPath: currentPath)
        currentIndex += 1
        return decoder
    }
}

private struct SingleValueDecoder: SingleValueDecodingContainer {
    let value: JSONValue
    let codingPath: [any CodingKey]

    func decodeNil() -> Bool { value == .null }

    func decode<Value: Decodable>(_ type: Value.Type) throws -> Value {
        try ValueDecoder.unbox(value, as: type, codingPath: codingPath)
    }
}

/// The coding key of an array element.
private struct IndexKey: CodingKey {
    let intValue: Int?
    var stringValue: String { "Index \(intValue ?? 0)" }

    init(_ index: Int) { intValue = index }
    init?(stringValue: String) { nil }
    init?(intValue: Int) { self.intValue = intValue }
}
