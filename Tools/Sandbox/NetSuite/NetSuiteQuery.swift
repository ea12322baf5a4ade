import Contract
import Foundation
import SandboxCore

/// The `q` parameter of a record list, in the small subset the sandbox understands:
/// `<field> IS <value>` (or `EQUAL` for numbers) joined by `AND`, values bare or in double quotes,
/// e.g. `externalId IS "INV-1" AND entity EQUAL 101`.
struct RecordFilter: Sendable {
    private struct Condition: Sendable {
        /// A canonical field name, or nil for the internal ID.
        let field: String?
        let value: JSONValue
    }

    private let conditions: [Condition]

    init(_ query: String, type: RecordType) throws(NetSuiteError) {
        // Unverified wording and code.
        func invalid(_ problem: String) -> NetSuiteError {
            NetSuiteError(code: "INVALID_PARAMETER", detail: "Invalid query parameter q: \(problem)")
        }
        let tokens = try Self.tokens(of: query)
        var conditions: [Condition] = []
        var position = 0
        while position < tokens.count {
            guard tokens.count - position >= 3 else { throw invalid("expected <field> IS <value>") }
            let (name, quotedName) = tokens[position]
            let (operation, quotedOperation) = tokens[position + 1]
            let (value, _) = tokens[position + 2]
            guard !quotedName, !quotedOperation, ["IS", "EQUAL"].contains(operation.uppercased()) else {
                throw invalid("expected <field> IS <value>, not \(name) \(operation)")
            }
            let field: String?
            if name.lowercased() == "id" {
                field = nil
            } else if let definition = type.field(named: name) {
                field = definition.name
            } else {
                throw invalid("the record type \(type.name) has no field \(name)")
            }
            conditions.append(Condition(field: field, value: .string(value)))
            position += 3
            if position < tokens.count {
                guard tokens[position].text.uppercased() == "AND", !tokens[position].quoted, position + 1 < tokens.count else {
                    throw invalid("conditions are joined with AND")
                }
                position += 1
            }
        }
        guard !conditions.isEmpty else { throw invalid("it is empty") }
        self.conditions = conditions
    }

    func matches(id: Int, values: [String: FieldValue]) -> Bool {
        conditions.allSatisfy { condition in
            guard let field = condition.field else { return condition.value == .string(String(id)) }
            return values[field]?.matches(condition.value) ?? false
        }
    }

    /// Words and double-quoted strings.
    private static func tokens(of query: String) throws(NetSuiteError) -> [(text: String, quoted: Bool)] {
        var tokens: [(text: String, quoted: Bool)] = []
        var current = ""
        var inQuotes = false
        let misplacedQuote = NetSuiteError(code: "INVALID_PARAMETER", detail: "Invalid query parameter q: misplaced double quote")
        for character in query {
            if inQuotes {
                if character == "\"" {
                    tokens.append((current, true))
                    current = ""
                    inQuotes = false
                } else {
                    current.append(character)
                }
            } else if character == "\"" {
                guard current.isEmpty else { throw misplacedQuote }
                inQuotes = true
            } else if character.isWhitespace {
                if !current.isEmpty { tokens.append((current, false)) }
                current = ""
            } else {
                current.append(character)
            }
        }
        guard !inQuotes else { throw misplacedQuote }
        if !current.isEmpty { tokens.append((current, false)) }
        return tokens
    }
}
