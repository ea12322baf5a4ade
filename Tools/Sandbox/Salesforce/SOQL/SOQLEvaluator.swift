import Foundation

/// A record a query can be run over.
public protocol SOQLRow {
    /// The value at a canonical field path; `.null` when the field is empty or a parent on the path is missing.
    func value(at path: [String]) -> FieldValue
}

extension SOQLQuery {
    /// Whether the row satisfies the WHERE clause. Run resolved queries: the evaluator trusts literal types.
    public func matches(_ row: some SOQLRow) -> Bool {
        condition?.isSatisfied(by: row) ?? true
    }

    /// Filters, sorts, then applies OFFSET and LIMIT.
    public func run<Row: SOQLRow>(over rows: [Row]) -> [Row] {
        let matching = rows.filter { matches($0) }
        let ordered = orderBy.isEmpty ? matching : sorted(matching)
        let page = ordered.dropFirst(offset ?? 0)
        return Array(page.prefix(limit ?? page.count))
    }

    private func sorted<Row: SOQLRow>(_ rows: [Row]) -> [Row] {
        // Each sort key is read once, and the original position breaks ties so the sort is stable.
        let keyed = rows.enumerated().map { position, row in
            (position: position, row: row, keys: orderBy.map { row.value(at: $0.field) })
        }
        let ordered = keyed.sorted { lhs, rhs in
            for (ordering, (left, right)) in zip(orderBy, zip(lhs.keys, rhs.keys)) {
                let order = ordering.order(left, right)
                if order != .orderedSame { return order == .orderedAscending }
            }
            return lhs.position < rhs.position
        }
        return ordered.map(\.row)
    }
}

extension SOQLCondition {
    fileprivate func isSatisfied(by row: some SOQLRow) -> Bool {
        switch self {
        case .comparison(let comparison): comparison.predicate.isSatisfied(by: row.value(at: comparison.field))
        case .not(let negated): !negated.isSatisfied(by: row)
        case .and(let operands): operands.allSatisfy { $0.isSatisfied(by: row) }
        case .or(let operands): operands.contains { $0.isSatisfied(by: row) }
        }
    }
}

extension SOQLPredicate {
    /// SOQL logic is two-valued: a null field equals null and differs from every other value,
    /// but never passes an ordering comparison or a LIKE.
    fileprivate func isSatisfied(by value: FieldValue) -> Bool {
        switch self {
        case .compare(.equal, let literal): value.soqlEquals(literal)
        case .compare(.notEqual, let literal): !value.soqlEquals(literal)
        case .compare(.less, let literal): value.soqlOrder(comparedTo: literal) == .orderedAscending
        case .compare(.lessOrEqual, let literal): value.soqlOrder(comparedTo: literal).map { $0 != .orderedDescending } ?? false
        case .compare(.greater, let literal): value.soqlOrder(comparedTo: literal) == .orderedDescending
        case .compare(.greaterOrEqual, let literal): value.soqlOrder(comparedTo: literal).map { $0 != .orderedAscending } ?? false
        case .like(let pattern):
            if case .string(let text) = value { pattern.matches(text) } else { false }
        case .in(let literals): literals.contains { value.soqlEquals($0) }
        case .notIn(let literals): !literals.contains { value.soqlEquals($0) }
        }
    }
}

extension SOQLLikePattern {
    /// Case-insensitive match of the whole text, `_` standing for one character and `%` for any run of them.
    fileprivate func matches(_ text: String) -> Bool {
        enum Unit: Equatable {
            case scalar(Unicode.Scalar)
            case anyOne
            case anyRun
        }
        let pattern = elements.flatMap { element -> [Unit] in
            switch element {
            case .literal(let literal): literal.lowercased().unicodeScalars.map(Unit.scalar)
            case .anyCharacter: [.anyOne]
            case .anySequence: [.anyRun]
            }
        }
        let candidate = Array(text.lowercased().unicodeScalars)

        var patternIndex = 0
        var candidateIndex = 0
        // After the latest `%`: where the pattern resumes, and how much of the text the `%` has swallowed so far.
        var backtrack: (patternIndex: Int, candidateIndex: Int)?
        while candidateIndex < candidate.count {
            if patternIndex < pattern.count {
                switch pattern[patternIndex] {
                case .anyRun:
                    patternIndex += 1
                    backtrack = (patternIndex, candidateIndex)
                    continue
                case .anyOne:
                    patternIndex += 1
                    candidateIndex += 1
                    continue
                case .scalar(let expected) where expected == candidate[candidateIndex]:
                    patternIndex += 1
                    candidateIndex += 1
                    continue
                case .scalar:
                    break
                }
            }
            guard let retry = backtrack else { return false }
            // Let the last `%` swallow one more character and try again from there.
            backtrack = (retry.patternIndex, retry.candidateIndex + 1)
            patternIndex = retry.patternIndex
            candidateIndex = retry.candidateIndex + 1
        }
        return pattern[patternIndex...].allSatisfy { $0 == .anyRun }
    }
}

extension SOQLOrdering {
    /// Where `lhs` sorts relative to `rhs` under this ordering.
    fileprivate func order(_ lhs: FieldValue, _ rhs: FieldValue) -> ComparisonResult {
        switch (lhs, rhs) {
        case (.null, .null):
            .orderedSame
        case (.null, _):
            nullsFirst ? .orderedAscending : .orderedDescending
        case (_, .null):
            nullsFirst ? .orderedDescending : .orderedAscending
        default:
            direction == .ascending ? lhs.soqlSortOrder(comparedTo: rhs) : rhs.soqlSortOrder(comparedTo: lhs)
        }
    }
}

// These extensions on the module-wide value type carry a `soql` prefix so they cannot clash with other files' helpers.
extension FieldValue {
    /// Equality as SOQL sees it: text ignores case, null equals only null, and a null checkbox reads as false.
    fileprivate func soqlEquals(_ literal: FieldValue) -> Bool {
        switch (self, literal) {
        case (.null, .null): true
        case (.null, .boolean(let expected)): !expected
        default: soqlOrder(comparedTo: literal) == .orderedSame
        }
    }

    /// How two non-null values of the same kind compare: text ignoring case, false before true. Nil otherwise.
    fileprivate func soqlOrder(comparedTo other: FieldValue) -> ComparisonResult? {
        switch (self, other) {
        case (.string(let lhs), .string(let rhs)): Self.soqlOrder(lhs.lowercased(), rhs.lowercased())
        case (.number(let lhs), .number(let rhs)): Self.soqlOrder(lhs, rhs)
        case (.boolean(let lhs), .boolean(let rhs)): Self.soqlOrder(lhs ? 1 : 0, rhs ? 1 : 0)
        case (.date(let lhs), .date(let rhs)): Self.soqlOrder(lhs, rhs)
        case (.dateTime(let lhs), .dateTime(let rhs)): Self.soqlOrder(lhs, rhs)
        default: nil
        }
    }

    /// Orders two non-null values. Values of different kinds only come from inconsistent data; ordering them by kind keeps sorting consistent.
    fileprivate func soqlSortOrder(comparedTo other: FieldValue) -> ComparisonResult {
        soqlOrder(comparedTo: other) ?? Self.soqlOrder(soqlKindRank, other.soqlKindRank)
    }

    private var soqlKindRank: Int {
        switch self {
        case .null: 0
        case .boolean: 1
        case .number: 2
        case .string: 3
        case .date: 4
        case .dateTime: 5
        }
    }

    private static func soqlOrder<Value: Comparable>(_ lhs: Value, _ rhs: Value) -> ComparisonResult {
        lhs < rhs ? .orderedAscending : lhs == rhs ? .orderedSame : .orderedDescending
    }
}
