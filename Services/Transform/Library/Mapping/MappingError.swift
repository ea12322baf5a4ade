import Foundation

/// A mapping file that cannot be used: where, and why.
public struct MappingError: Error, Sendable, CustomStringConvertible, Equatable {
    public let file: String
    public let line: Int
    /// The setting at fault, e.g. `objects[invoice].fields[Total_Amount__c].convert`.
    public let field: String
    public let message: String

    public var description: String { "\(file):\(line): \(field): \(message)" }
}

/// Reads one JSON object of a mapping file, refusing keys it does not know.
struct MappingObjectReader {
    let file: String
    let node: LocatedJSON
    let context: String
    private let members: [(key: String, value: LocatedJSON)]

    init(_ node: LocatedJSON, file: String, context: String) throws(MappingError) {
        guard case .object(let members) = node.value else {
            throw MappingError(file: file, line: node.line, field: context, message: "expected an object")
        }
        self.file = file
        self.node = node
        self.context = context
        self.members = members
    }

    func fail(_ message: String, at node: LocatedJSON? = nil, key: String? = nil) -> MappingError {
        MappingError(file: file, line: (node ?? self.node).line, field: key.map { "\(context).\($0)" } ?? context, message: message)
    }

    /// Fails on any key outside `known`, naming the closest one.
    func allowOnly(_ known: Set<String>) throws(MappingError) {
        for member in members where !known.contains(member.key) {
            throw fail("unknown setting; expected one of \(known.sorted().joined(separator: ", "))", at: member.value, key: member.key)
        }
    }

    var keys: [String] { members.map(\.key) }

    func node(_ key: String) -> LocatedJSON? { members.first { $0.key == key }?.value }

    func string(_ key: String) throws(MappingError) -> String? {
        guard let value = node(key) else { return nil }
        switch value.value {
        case .string(let text): return text
        case .null: return nil
        default: throw fail("expected a string", at: value, key: key)
        }
    }

    func requiredString(_ key: String) throws(MappingError) -> String {
        guard let text = try string(key), !text.isEmpty else { throw fail("required", key: key) }
        return text
    }

    func bool(_ key: String) throws(MappingError) -> Bool? {
        guard let value = node(key) else { return nil }
        guard case .bool(let flag) = value.value else { throw fail("expected true or false", at: value, key: key) }
        return flag
    }

    func int(_ key: String) throws(MappingError) -> Int? {
        guard let value = node(key) else { return nil }
        guard case .number(let number) = value.value, let whole = Int(exactly: NSDecimalNumber(decimal: number).doubleValue), whole >= 0 else {
            throw fail("expected a whole number", at: value, key: key)
        }
        return whole
    }

    /// A string, or a list of strings (first non-null wins), as a list.
    func strings(_ key: String) throws(MappingError) -> [String]? {
        guard let value = node(key) else { return nil }
        switch value.value {
        case .string(let text): return [text]
        case .array(let items):
            var texts: [String] = []
            for item in items {
                guard case .string(let text) = item.value else { throw fail("expected strings", at: item, key: key) }
                texts.append(text)
            }
            return texts
        default: throw fail("expected a string or a list of strings", at: value, key: key)
        }
    }

    func array(_ key: String) throws(MappingError) -> [LocatedJSON]? {
        guard let value = node(key) else { return nil }
        guard case .array(let items) = value.value else { throw fail("expected a list", at: value, key: key) }
        return items
    }

    func stringMap(_ key: String) throws(MappingError) -> [String: String]? {
        guard let value = node(key) else { return nil }
        guard case .object(let members) = value.value else { throw fail("expected an object of strings", at: value, key: key) }
        var map: [String: String] = [:]
        for member in members {
            switch member.value.value {
            case .string(let text): map[member.key] = text
            case .number(let number): map[member.key] = "\(number)"
            default: throw fail("expected a string", at: member.value, key: "\(key).\(member.key)")
            }
        }
        return map
    }
}
