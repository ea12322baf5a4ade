import Foundation

/// What a field holds, as far as checking a query's literals is concerned.
public enum SOQLFieldKind: Sendable {
    case string
    case number
    case boolean
    case date
    case dateTime
    /// Id and reference fields.
    case id
}

/// The objects and fields a query may name.
public protocol SOQLSchema: Sendable {
    /// Canonical object name, or nil if no such object (case-insensitive lookup).
    func objectName(matching name: String) -> String?
    /// Canonical path and kind of a field path on an object, or nil. A path of length 2 walks one parent relationship, e.g. ["Account","Name"] on Opportunity.
    func field(_ path: [String], on object: String) -> (path: [String], kind: SOQLFieldKind)?
}

extension SOQLQuery {
    /// Checks object and field names and literal types against the schema, returning the query with field names in their canonical spelling.
    public func resolved(against schema: some SOQLSchema) throws(SOQLError) -> SOQLQuery {
        guard let canonicalObject = schema.objectName(matching: object) else {
            throw SOQLError(
                code: SOQLError.invalidType,
                message: "sObject type '\(object)' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names.",
                query: source,
                offset: objectOffset
            )
        }
        let resolver = SOQLFieldResolver(schema: schema, object: canonicalObject, query: source)

        var resolvedSelection = selection
        if case .fields(let paths) = selection {
            var canonicalPaths: [[String]] = []
            for (path, offset) in zip(paths, fieldOffsets) {
                canonicalPaths.append(try resolver.field(path, at: offset).path)
            }
            resolvedSelection = .fields(canonicalPaths)
        }

        var resolvedCondition: SOQLCondition?
        if let condition {
            resolvedCondition = try resolver.resolve(condition)
        }

        var resolvedOrderBy: [SOQLOrdering] = []
        for ordering in orderBy {
            let path = try resolver.field(ordering.field, at: ordering.fieldOffset).path
            resolvedOrderBy.append(SOQLOrdering(
                field: path, direction: ordering.direction, nullsFirst: ordering.nullsFirst, fieldOffset: ordering.fieldOffset
            ))
        }

        return SOQLQuery(
            object: canonicalObject, selection: resolvedSelection, condition: resolvedCondition, orderBy: resolvedOrderBy,
            limit: limit, offset: offset, source: source, objectOffset: objectOffset, fieldOffsets: fieldOffsets
        )
    }
}

private struct SOQLFieldResolver<Schema: SOQLSchema> {
    let schema: Schema
    let object: String
    let query: String

    func field(_ path: [String], at offset: Int) throws(SOQLError) -> (path: [String], kind: SOQLFieldKind) {
        if let found = schema.field(path, on: object) { return found }
        throw unknownField(path, at: offset)
    }

    /// Salesforce words a misspelt relationship differently from a misspelt field.
    private func unknownField(_ path: [String], at offset: Int) -> SOQLError {
        var entity = object
        // Every sObject has an Id, so asking for the Id behind each relationship shows whether the relationship exists.
        for hops in 1..<max(path.count, 1) {
            guard let parentId = schema.field(Array(path.prefix(hops)) + ["Id"], on: object) else {
                return SOQLError(
                    code: SOQLError.invalidField,
                    message: "Didn't understand relationship '\(path[hops - 1])' in field path. If you are attempting to use a custom relationship, be sure to append the '__r' after the custom relationship name. Please reference your WSDL or the describe call for the appropriate names.",
                    query: query,
                    offset: offset
                )
            }
            entity = parentId.path.dropLast().last ?? path[hops - 1]
        }
        return SOQLError(
            code: SOQLError.invalidField,
            message: "No such column '\(path.last ?? "")' on entity '\(entity)'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.",
            query: query,
            offset: offset
        )
    }

    func resolve(_ condition: SOQLCondition) throws(SOQLError) -> SOQLCondition {
        switch condition {
        case .comparison(let comparison):
            return .comparison(try resolve(comparison))
        case .not(let negated):
            return .not(try resolve(negated))
        case .and(let operands):
            return .and(try resolve(operands))
        case .or(let operands):
            return .or(try resolve(operands))
        }
    }

    private func resolve(_ operands: [SOQLCondition]) throws(SOQLError) -> [SOQLCondition] {
        var resolved: [SOQLCondition] = []
        for operand in operands {
            resolved.append(try resolve(operand))
        }
        return resolved
    }

    private func resolve(_ comparison: SOQLComparison) throws(SOQLError) -> SOQLComparison {
        let (path, kind) = try field(comparison.field, at: comparison.fieldOffset)
        for (index, literal) in comparison.predicate.comparedLiterals.enumerated() where !literal.isSOQLLiteral(for: kind) {
            let offsets = comparison.literalOffsets
            throw SOQLError(
                code: SOQLError.invalidField,
                message: "value of filter criterion for field '\(path.last ?? "")' must be of type \(kind.salesforceTypeName) and should \(kind.isQuoted ? "" : "not ")be enclosed in quotes",
                query: query,
                offset: offsets.indices.contains(index) ? offsets[index] : comparison.fieldOffset
            )
        }
        let predicate = kind == .boolean ? comparison.predicate.treatingNullAsFalse() : comparison.predicate
        return SOQLComparison(field: path, predicate: predicate, fieldOffset: comparison.fieldOffset, literalOffsets: comparison.literalOffsets)
    }
}

extension SOQLPredicate {
    /// The literals compared with the field, in query order; a LIKE pattern counts as a quoted string.
    fileprivate var comparedLiterals: [FieldValue] {
        switch self {
        case .compare(_, let literal): [literal]
        case .like(let pattern): [.string(pattern.description)]
        case .in(let literals), .notIn(let literals): literals
        }
    }

    /// A checkbox is never null in Salesforce, and `null` in a query about one means false.
    fileprivate func treatingNullAsFalse() -> SOQLPredicate {
        func checkbox(_ literal: FieldValue) -> FieldValue {
            literal == .null ? .boolean(false) : literal
        }
        return switch self {
        case .compare(let comparison, let literal): .compare(comparison, checkbox(literal))
        case .like: self
        case .in(let literals): .in(literals.map(checkbox))
        case .notIn(let literals): .notIn(literals.map(checkbox))
        }
    }
}

extension FieldValue {
    /// Whether this literal may be compared with a field of the given kind; null goes with any field.
    fileprivate func isSOQLLiteral(for kind: SOQLFieldKind) -> Bool {
        switch self {
        case .null: true
        case .string: kind == .string || kind == .id
        case .number: kind == .number
        case .boolean: kind == .boolean
        case .date: kind == .date
        case .dateTime: kind == .dateTime
        }
    }
}

extension SOQLFieldKind {
    /// The type name Salesforce uses in its filter errors.
    fileprivate var salesforceTypeName: String {
        switch self {
        case .string: "string"
        case .number: "double"
        case .boolean: "boolean"
        case .date: "date"
        case .dateTime: "dateTime"
        case .id: "id"
        }
    }

    /// Whether literals for this kind are written in quotes.
    fileprivate var isQuoted: Bool {
        self == .string || self == .id
    }
}
