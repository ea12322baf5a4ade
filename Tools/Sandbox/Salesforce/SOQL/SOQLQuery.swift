import Foundation

/// A parsed SOQL query. Names are as written until `resolved(against:)` replaces them with the schema's spelling.
public struct SOQLQuery: Sendable {
    public enum Selection: Sendable, Hashable {
        /// `SELECT COUNT()`: the caller reports how many rows matched instead of the rows.
        case count
        /// Field paths such as `["Name"]` or `["Account", "Billing_Id__c"]`.
        case fields([[String]])
    }

    public let object: String
    public let selection: Selection
    public let condition: SOQLCondition?
    public let orderBy: [SOQLOrdering]
    public let limit: Int?
    public let offset: Int?

    /// The query text, kept so that errors found after parsing can point into it.
    let source: String
    let objectOffset: Int
    /// Where each selected field starts in `source`, in selection order.
    let fieldOffsets: [Int]
}

/// A WHERE condition. SOQL has no operator precedence, so AND and OR never share a level.
public enum SOQLCondition: Sendable {
    case comparison(SOQLComparison)
    indirect case not(SOQLCondition)
    case and([SOQLCondition])
    case or([SOQLCondition])
}

/// One field tested against literals, as in `Name = 'Acme'` or `Amount IN (1, 2)`.
public struct SOQLComparison: Sendable {
    public let field: [String]
    public let predicate: SOQLPredicate

    let fieldOffset: Int
    /// Where each literal of `predicate` starts in the query text, in the order the query lists them.
    let literalOffsets: [Int]
}

public enum SOQLPredicate: Sendable, Hashable {
    case compare(SOQLComparisonOperator, FieldValue)
    case like(SOQLLikePattern)
    case `in`([FieldValue])
    case notIn([FieldValue])
}

public enum SOQLComparisonOperator: String, Sendable, Hashable {
    case equal = "="
    case notEqual = "!="  // also written `<>`
    case less = "<"
    case lessOrEqual = "<="
    case greater = ">"
    case greaterOrEqual = ">="
}

/// A LIKE pattern with its escapes already decoded, so a literal `%` cannot be mistaken for a wildcard.
public struct SOQLLikePattern: Sendable, Hashable {
    public enum Element: Sendable, Hashable {
        case literal(String)
        /// `_`
        case anyCharacter
        /// `%`
        case anySequence
    }

    public let elements: [Element]
}

public struct SOQLOrdering: Sendable {
    public enum Direction: Sendable, Hashable {
        case ascending
        case descending
    }

    public let field: [String]
    public let direction: Direction
    /// Salesforce puts nulls first when ascending and last when descending unless NULLS FIRST or NULLS LAST says otherwise.
    public let nullsFirst: Bool

    let fieldOffset: Int
}

// MARK: - SOQL text

extension SOQLQuery: CustomStringConvertible {
    /// The query as SOQL, with defaults left out.
    public var description: String {
        var soql = "SELECT "
        switch selection {
        case .count: soql += "COUNT()"
        case .fields(let paths): soql += paths.map { $0.joined(separator: ".") }.joined(separator: ", ")
        }
        soql += " FROM \(object)"
        if let condition { soql += " WHERE \(condition)" }
        if !orderBy.isEmpty { soql += " ORDER BY " + orderBy.map(\.description).joined(separator: ", ") }
        if let limit { soql += " LIMIT \(limit)" }
        if let offset { soql += " OFFSET \(offset)" }
        return soql
    }
}

extension SOQLCondition: CustomStringConvertible {
    public var description: String {
        switch self {
        case .comparison(let comparison): comparison.description
        case .not(let negated): "NOT \(negated.operandDescription)"
        case .and(let operands): operands.map(\.operandDescription).joined(separator: " AND ")
        case .or(let operands): operands.map(\.operandDescription).joined(separator: " OR ")
        }
    }

    /// Compound conditions inside another need parentheses: SOQL accepts neither `a AND b OR c` nor `a AND NOT b`.
    private var operandDescription: String {
        if case .comparison = self { description } else { "(\(description))" }
    }
}

extension SOQLComparison: CustomStringConvertible {
    public var description: String {
        "\(field.joined(separator: ".")) \(predicate)"
    }
}

extension SOQLPredicate: CustomStringConvertible {
    public var description: String {
        switch self {
        case .compare(let comparison, let literal): "\(comparison.rawValue) \(literal.soqlLiteral)"
        case .like(let pattern): "LIKE \(pattern)"
        case .in(let literals): "IN (\(literals.map(\.soqlLiteral).joined(separator: ", ")))"
        case .notIn(let literals): "NOT IN (\(literals.map(\.soqlLiteral).joined(separator: ", ")))"
        }
    }
}

extension SOQLLikePattern: CustomStringConvertible {
    /// The pattern as a quoted SOQL string.
    public var description: String {
        let body = elements.map { element in
            switch element {
            case .literal(let text): soqlEscaped(text, escapingWildcards: true)
            case .anyCharacter: "_"
            case .anySequence: "%"
            }
        }
        return "'\(body.joined())'"
    }
}

extension SOQLOrdering: CustomStringConvertible {
    public var description: String {
        var text = field.joined(separator: ".")
        if direction == .descending { text += " DESC" }
        if nullsFirst != (direction == .ascending) { text += nullsFirst ? " NULLS FIRST" : " NULLS LAST" }
        return text
    }
}
