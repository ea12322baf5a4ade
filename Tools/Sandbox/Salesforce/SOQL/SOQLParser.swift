import Foundation

/// Parses the subset of SOQL the sandbox answers.
public enum SOQLParser {
    /// Parses a query; names stay as written until the query is resolved against a schema.
    public static func parse(_ text: String) throws(SOQLError) -> SOQLQuery {
        var parser = SOQLTokenParser(query: text, tokens: try SOQLLexer.tokens(in: text))
        return try parser.parseQuery()
    }
}

/// A character of a decoded string literal.
private enum SOQLStringUnit {
    case scalar(Unicode.Scalar)
    /// `\%` or `\_`: a literal `%` or `_` in a LIKE pattern.
    case escapedWildcard(Unicode.Scalar)
}

/// Recursive descent over the token list, following Salesforce's grammar for the supported clauses.
private struct SOQLTokenParser {
    let query: String
    /// Never empty: the lexer always ends it with an `.end` token.
    let tokens: [SOQLToken]
    var position = 0
    var nesting = 0

    /// Words Salesforce never accepts as an object or field name.
    static let reservedWords: Set<String> = [
        "AND", "ASC", "DESC", "EXCLUDES", "FIRST", "FROM", "GROUP", "HAVING", "IN", "INCLUDES",
        "LAST", "LIKE", "LIMIT", "NOT", "NULL", "NULLS", "OR", "SELECT", "WHERE", "WITH",
    ]

    /// Real SOQL clauses the sandbox refuses, by their first word.
    static let unsupportedClauses: [String: String] = [
        "USING": "USING SCOPE",
        "WITH": "WITH clauses",
        "GROUP": "GROUP BY",
        "HAVING": "HAVING",
        "FOR": "FOR VIEW, FOR REFERENCE or FOR UPDATE",
        "UPDATE": "UPDATE TRACKING or UPDATE VIEWSTAT",
        "ALL": "ALL ROWS",
    ]

    /// Words that may follow the object name.
    static let clauseKeywords = Set(unsupportedClauses.keys).union(["WHERE", "ORDER", "LIMIT", "OFFSET"])

    static let relativeDateLiterals: Set<String> = [
        "YESTERDAY", "TODAY", "TOMORROW", "LAST_WEEK", "THIS_WEEK", "NEXT_WEEK",
        "LAST_MONTH", "THIS_MONTH", "NEXT_MONTH", "LAST_90_DAYS", "NEXT_90_DAYS",
        "THIS_QUARTER", "LAST_QUARTER", "NEXT_QUARTER", "THIS_YEAR", "LAST_YEAR", "NEXT_YEAR",
        "THIS_FISCAL_QUARTER", "LAST_FISCAL_QUARTER", "NEXT_FISCAL_QUARTER",
        "THIS_FISCAL_YEAR", "LAST_FISCAL_YEAR", "NEXT_FISCAL_YEAR",
    ]

    static let maximumOffset = 2000

    /// Bounds recursion, here and when resolving and evaluating, so no query can exhaust the stack.
    static let maximumNesting = 100

    var current: SOQLToken { tokens[position] }
    var next: SOQLToken { tokens[min(position + 1, tokens.count - 1)] }

    mutating func advance() {
        position = min(position + 1, tokens.count - 1)
    }

    // MARK: Clauses

    mutating func parseQuery() throws(SOQLError) -> SOQLQuery {
        try expectKeyword("SELECT")
        let (selection, fieldOffsets) = try parseSelection()
        try expectKeyword("FROM")
        let objectOffset = current.offset
        // Group is a standard object even though GROUP is reserved.
        let object = try parseName(allowingReserved: "GROUP")
        try rejectAlias()

        try rejectUnsupportedClause()
        var condition: SOQLCondition?
        if acceptKeyword("WHERE") {
            condition = try parseLogicalExpression()
        }

        try rejectUnsupportedClause()
        var orderBy: [SOQLOrdering] = []
        if current.isKeyword("ORDER") {
            if selection == .count {
                throw error("COUNT() can't be used with an ORDER BY clause", at: current)
            }
            advance()
            try expectKeyword("BY")
            orderBy = try parseOrderings()
        }

        try rejectUnsupportedClause()
        var limit: Int?
        if acceptKeyword("LIMIT") {
            limit = try parseNonNegativeInteger()
        }
        var offset: Int?
        if acceptKeyword("OFFSET") {
            let value = try parseNonNegativeInteger()
            guard value <= Self.maximumOffset else {
                throw SOQLError(code: SOQLError.numberOutsideValidRange, message: "Maximum SOQL offset allowed is \(Self.maximumOffset)")
            }
            offset = value
        }

        try rejectUnsupportedClause()
        guard current.kind == .end else { throw unexpected(current) }
        return SOQLQuery(
            object: object, selection: selection, condition: condition, orderBy: orderBy, limit: limit, offset: offset,
            source: query, objectOffset: objectOffset, fieldOffsets: fieldOffsets
        )
    }

    mutating func parseSelection() throws(SOQLError) -> (SOQLQuery.Selection, [Int]) {
        if current.isKeyword("COUNT"), next.isSymbol("(") {
            let count = current
            advance()
            advance()
            guard acceptSymbol(")") else {
                throw unsupported("COUNT(fieldName); only COUNT() is supported", at: count)
            }
            if current.isSymbol(",") {
                throw error("COUNT() must be the only element in the SELECT list", at: current)
            }
            return (.count, [])
        }

        var paths: [[String]] = []
        var offsets: [Int] = []
        var selected: Set<String> = []
        repeat {
            let start = current
            if start.isSymbol("(") { throw unsupported("subqueries", at: start) }
            if start.isKeyword("TYPEOF") { throw unsupported("TYPEOF", at: start) }
            let path = try parseFieldPath(in: "SELECT")
            let name = path.joined(separator: ".")
            guard selected.insert(name.uppercased()).inserted else {
                throw error("duplicate field selected: \(name)", at: start)
            }
            paths.append(path)
            offsets.append(start.offset)
        } while acceptSymbol(",")
        return (.fields(paths), offsets)
    }

    /// `FROM Account a` is valid SOQL; say the sandbox lacks aliases rather than report a puzzling token.
    func rejectAlias() throws(SOQLError) {
        guard current.kind == .identifier, !Self.clauseKeywords.contains(current.text.uppercased()) else { return }
        let following = next
        if following.kind == .end || (following.kind == .identifier && Self.clauseKeywords.contains(following.text.uppercased())) {
            throw unsupported("object aliases ('\(current.text)')", at: current)
        }
    }

    func rejectUnsupportedClause() throws(SOQLError) {
        guard current.kind == .identifier, let clause = Self.unsupportedClauses[current.text.uppercased()] else { return }
        throw unsupported(clause, at: current)
    }

    mutating func parseOrderings() throws(SOQLError) -> [SOQLOrdering] {
        var orderings: [SOQLOrdering] = []
        repeat {
            let fieldOffset = current.offset
            let field = try parseFieldPath(in: "ORDER BY")
            var direction = SOQLOrdering.Direction.ascending
            if acceptKeyword("DESC") {
                direction = .descending
            } else {
                acceptKeyword("ASC")
            }
            var nullsFirst = direction == .ascending
            if acceptKeyword("NULLS") {
                if acceptKeyword("FIRST") {
                    nullsFirst = true
                } else if acceptKeyword("LAST") {
                    nullsFirst = false
                } else {
                    throw unexpected(current)
                }
            }
            orderings.append(SOQLOrdering(field: field, direction: direction, nullsFirst: nullsFirst, fieldOffset: fieldOffset))
        } while acceptSymbol(",")
        return orderings
    }

    mutating func parseNonNegativeInteger() throws(SOQLError) -> Int {
        let token = current
        guard case .number = token.kind, token.text.unicodeScalars.allSatisfy(\.isSOQLDigit), let value = Int(token.text) else {
            throw unexpected(token)
        }
        advance()
        return value
    }

    // MARK: Conditions

    /// Salesforce's grammar: either `NOT operand`, or operands joined all by AND or all by OR.
    mutating func parseLogicalExpression() throws(SOQLError) -> SOQLCondition {
        if acceptKeyword("NOT") {
            return .not(try parseConditionalExpression())
        }
        let first = try parseConditionalExpression()
        let joiner = current.isKeyword("AND") ? "AND" : current.isKeyword("OR") ? "OR" : nil
        guard let joiner else { return first }

        var operands = [first]
        while acceptKeyword(joiner) {
            operands.append(try parseConditionalExpression())
        }
        // SOQL has no precedence between AND and OR, so mixing them without parentheses is an error.
        if current.isKeyword(joiner == "AND" ? "OR" : "AND") {
            throw unexpected(current)
        }
        return joiner == "AND" ? .and(operands) : .or(operands)
    }

    mutating func parseConditionalExpression() throws(SOQLError) -> SOQLCondition {
        let start = current
        if acceptSymbol("(") {
            nesting += 1
            defer { nesting -= 1 }
            guard nesting <= Self.maximumNesting else {
                throw unsupported("conditions nested more than \(Self.maximumNesting) parentheses deep", at: start)
            }
            let inner = try parseLogicalExpression()
            try expectSymbol(")")
            return inner
        }
        return .comparison(try parseFieldExpression())
    }

    mutating func parseFieldExpression() throws(SOQLError) -> SOQLComparison {
        let fieldOffset = current.offset
        let field = try parseFieldPath(in: "WHERE")
        let operatorToken = current

        let predicate: SOQLPredicate
        let literalOffsets: [Int]
        if operatorToken.kind == .symbol, let comparison = SOQLComparisonOperator(symbol: operatorToken.text) {
            advance()
            literalOffsets = [current.offset]
            predicate = .compare(comparison, try parseLiteral())
        } else if acceptKeyword("LIKE") {
            let patternToken = current
            guard case .string(let content) = patternToken.kind else { throw unexpected(patternToken) }
            advance()
            literalOffsets = [patternToken.offset]
            predicate = .like(try likePattern(content, token: patternToken))
        } else if acceptKeyword("IN") {
            let list = try parseLiteralList()
            literalOffsets = list.offsets
            predicate = .in(list.literals)
        } else if acceptKeyword("NOT") {
            try expectKeyword("IN")
            let list = try parseLiteralList()
            literalOffsets = list.offsets
            predicate = .notIn(list.literals)
        } else if operatorToken.isKeyword("INCLUDES") || operatorToken.isKeyword("EXCLUDES") {
            throw unsupported("INCLUDES and EXCLUDES (multi-select picklists)", at: operatorToken)
        } else {
            throw unexpected(operatorToken)
        }
        return SOQLComparison(field: field, predicate: predicate, fieldOffset: fieldOffset, literalOffsets: literalOffsets)
    }

    mutating func parseLiteralList() throws(SOQLError) -> (literals: [FieldValue], offsets: [Int]) {
        try expectSymbol("(")
        if current.isKeyword("SELECT") {
            throw unsupported("semi-joins or anti-joins (subqueries in IN)", at: current)
        }
        var literals: [FieldValue] = []
        var offsets: [Int] = []
        repeat {
            offsets.append(current.offset)
            literals.append(try parseLiteral())
        } while acceptSymbol(",")
        try expectSymbol(")")
        return (literals, offsets)
    }

    mutating func parseLiteral() throws(SOQLError) -> FieldValue {
        let token = current
        let literal: FieldValue
        switch token.kind {
        case .string(let content):
            literal = .string(try decodePlainString(content, token: token))
        case .number(let number):
            literal = .number(number)
        case .date(let day):
            literal = .date(day)
        case .dateTime(let instant):
            literal = .dateTime(instant)
        case .identifier:
            let word = token.text.uppercased()
            switch word {
            case "NULL": literal = .null
            case "TRUE": literal = .boolean(true)
            case "FALSE": literal = .boolean(false)
            default:
                if isRelativeDateLiteral(word) {
                    throw unsupported("relative date literals such as \(word)", at: token)
                }
                throw unexpected(token)
            }
        case .symbol, .end:
            throw unexpected(token)
        }
        advance()
        return literal
    }

    /// Recognises `TODAY`, `LAST_N_DAYS:n`, `N_WEEKS_AGO:n` and the like.
    func isRelativeDateLiteral(_ word: String) -> Bool {
        Self.relativeDateLiterals.contains(word)
            || word.hasPrefix("LAST_N_") || word.hasPrefix("NEXT_N_")
            || (word.hasPrefix("N_") && word.hasSuffix("_AGO"))
    }

    // MARK: Names

    /// A field name, dotted through parent relationships.
    mutating func parseFieldPath(in clause: String) throws(SOQLError) -> [String] {
        if current.kind == .identifier, next.isSymbol("(") {
            let function = current.text.uppercased()
            let supported = clause == "SELECT" ? "plain fields and a lone COUNT()" : "plain fields"
            throw unsupported("functions such as \(function)() in \(clause); only \(supported) are supported", at: current)
        }
        var path = [try parseName()]
        while acceptSymbol(".") {
            path.append(try parseName())
        }
        return path
    }

    mutating func parseName(allowingReserved allowed: String? = nil) throws(SOQLError) -> String {
        let token = current
        let word = token.text.uppercased()
        guard token.kind == .identifier, word == allowed || !Self.reservedWords.contains(word) else {
            throw unexpected(token)
        }
        advance()
        return token.text
    }

    // MARK: String literals

    func decodePlainString(_ content: String, token: SOQLToken) throws(SOQLError) -> String {
        var decoded = ""
        for unit in try decodeEscapes(content, allowingWildcardEscapes: false, token: token) {
            if case .scalar(let scalar) = unit {
                decoded.unicodeScalars.append(scalar)
            }
        }
        return decoded
    }

    func likePattern(_ content: String, token: SOQLToken) throws(SOQLError) -> SOQLLikePattern {
        var elements: [SOQLLikePattern.Element] = []
        var literal = ""
        func flushLiteral() {
            if !literal.isEmpty {
                elements.append(.literal(literal))
                literal = ""
            }
        }
        for unit in try decodeEscapes(content, allowingWildcardEscapes: true, token: token) {
            switch unit {
            case .scalar("%"):
                flushLiteral()
                elements.append(.anySequence)
            case .scalar("_"):
                flushLiteral()
                elements.append(.anyCharacter)
            case .scalar(let scalar), .escapedWildcard(let scalar):
                literal.unicodeScalars.append(scalar)
            }
        }
        flushLiteral()
        return SOQLLikePattern(elements: elements)
    }

    /// Decodes backslash escapes. `\%` and `\_` mean a literal wildcard character, so they are legal only in a LIKE pattern.
    func decodeEscapes(_ content: String, allowingWildcardEscapes: Bool, token: SOQLToken) throws(SOQLError) -> [SOQLStringUnit] {
        let scalars = Array(content.unicodeScalars)
        var units: [SOQLStringUnit] = []
        var index = 0
        func illegal(_ sequence: String) -> SOQLError {
            error("Invalid string literal '\(content)'. Illegal character sequence '\(sequence)' in string literal.", at: token)
        }
        while index < scalars.count {
            let scalar = scalars[index]
            index += 1
            guard scalar == "\\" else {
                units.append(.scalar(scalar))
                continue
            }
            guard index < scalars.count else { throw illegal("\\") }
            let escaped = scalars[index]
            index += 1
            switch escaped {
            case "n", "N": units.append(.scalar("\n"))
            case "r", "R": units.append(.scalar("\r"))
            case "t", "T": units.append(.scalar("\t"))
            case "b", "B": units.append(.scalar("\u{08}"))
            case "f", "F": units.append(.scalar("\u{0C}"))
            case "\"", "'", "\\": units.append(.scalar(escaped))
            case "%" where allowingWildcardEscapes, "_" where allowingWildcardEscapes:
                units.append(.escapedWildcard(escaped))
            case "u":
                let hex = scalars[index..<min(index + 4, scalars.count)]
                let digits = String(String.UnicodeScalarView(hex))
                guard hex.count == 4, hex.allSatisfy(\.properties.isASCIIHexDigit),
                      let value = UInt32(digits, radix: 16), let decoded = Unicode.Scalar(value)
                else { throw illegal("\\u\(digits)") }
                units.append(.scalar(decoded))
                index += 4
            default:
                throw illegal("\\\(escaped)")
            }
        }
        return units
    }

    // MARK: Tokens

    mutating func expectKeyword(_ keyword: String) throws(SOQLError) {
        guard acceptKeyword(keyword) else { throw unexpected(current) }
    }

    @discardableResult
    mutating func acceptKeyword(_ keyword: String) -> Bool {
        guard current.isKeyword(keyword) else { return false }
        advance()
        return true
    }

    mutating func expectSymbol(_ symbol: String) throws(SOQLError) {
        guard acceptSymbol(symbol) else { throw unexpected(current) }
    }

    mutating func acceptSymbol(_ symbol: String) -> Bool {
        guard current.isSymbol(symbol) else { return false }
        advance()
        return true
    }

    // MARK: Errors

    func error(_ message: String, at token: SOQLToken) -> SOQLError {
        SOQLError(code: SOQLError.malformedQuery, message: message, query: query, offset: token.offset)
    }

    func unexpected(_ token: SOQLToken) -> SOQLError {
        error("unexpected token: '\(token.text)'", at: token)
    }

    func unsupported(_ feature: String, at token: SOQLToken) -> SOQLError {
        error("the sandbox does not support \(feature)", at: token)
    }
}

extension SOQLComparisonOperator {
    fileprivate init?(symbol: String) {
        if symbol == "<>" {
            self = .notEqual
        } else {
            self.init(rawValue: symbol)
        }
    }
}
