import Contract
import Foundation
import SandboxCore
import Synchronization

/// The answer to one REST call (or one composite subrequest).
struct APIResult: Sendable {
    var status: Int
    var body: JSONValue?
    var headers: [String: String] = [:]
    /// Records the call created, updated or deleted, for the request statistics.
    var recordsWritten = 0

    static func error(_ error: SalesforceError) -> APIResult {
        APIResult(status: error.status, body: [error.restBody])
    }
}

/// A parsed REST request under `/services/data/vXX.X/`.
struct APIRequest: Sendable {
    var method: String
    /// Major version, e.g. 62 for v62.0.
    var version: Int
    var versionText: String
    var segments: [String]
    var query: [String: String]
    var body: JSONValue?
    var batchSize: Int
    /// External-ID keys another in-flight request is inserting right now (see `SalesforceSettings.insertCommitMs`).
    var contendedKeys: Set<String> = []

    var base: String { "/services/data/\(versionText)" }
}

/// Salesforce's REST resources over the org. Runs synchronously inside one org transaction, so a
/// composite request's subrequests share it.
struct SalesforceAPI {
    let schema: SalesforceSchema
    let cursors: QueryCursors

    static let maxCollectionRecords = 200
    static let maxCompositeSubrequests = 25
    static let maxCompositeCollectionsOrQueries = 5

    func handle(_ request: APIRequest, state: inout OrgState) -> APIResult {
        let segments = request.segments
        switch (request.method, segments.first, segments.count) {
        case ("GET", "limits", 1):
            return APIResult(status: 200, body: nil)  // filled in by the caller, which owns the usage counter
        case ("GET", "sobjects", 1):
            return describeGlobal(request)
        case (_, "sobjects", _):
            return sobjects(request, state: &state)
        case (_, "composite", 1):
            guard request.method == "POST" else { return .error(methodNotAllowed(request)) }
            return composite(request, state: &state)
        case (_, "composite", _) where segments.count >= 2 && segments[1] == "sobjects":
            return collections(request, state: &state)
        case ("GET", "query", _), ("GET", "queryAll", _):
            return query(request, state: &state)
        default:
            return .error(.notFound)
        }
    }

    // MARK: sObject rows

    private func sobjects(_ request: APIRequest, state: inout OrgState) -> APIResult {
        let segments = request.segments
        guard segments.count >= 2, let object = schema.object(named: segments[1]) else {
            return .error(.notFound)
        }
        switch (request.method, segments.count) {
        case ("GET", 2):
            return APIResult(status: 200, body: ["objectDescribe": objectSummary(object, request), "recentItems": []])
        case ("GET", 3) where segments[2] == "describe":
            return APIResult(status: 200, body: describe(object, request))
        case ("POST", 2):
            guard let fields = request.body?.objectValue else { return .error(bodyMustBeObject) }
            do {
                let id = try state.atomically { (state: inout OrgState) throws(SalesforceError) in try state.create(object, fields: fields) }
                return APIResult(
                    status: 201, body: ["id": .string(id), "success": true, "errors": []],
                    headers: ["Location": "\(request.base)/sobjects/\(object.name)/\(id)"], recordsWritten: 1)
            } catch {
                return .error(error)
            }
        case (_, 3):
            guard let id = SalesforceIds.canonical(segments[2]), state.object(ofId: id)?.name == object.name else {
                return .error(SalesforceError("NOT_FOUND", "Provided external ID field does not exist or is not accessible: \(segments[2])", status: 404))
            }
            return row(object, id: id, request, state: &state)
        case (_, 4):
            guard let field = object.field(named: segments[2]), field.externalId || field.name == "Id" else {
                return .error(SalesforceError("NOT_FOUND", "Provided external ID field does not exist or is not accessible: \(segments[2])", status: 404))
            }
            return byExternalId(object, field: field, value: segments[3], request, state: &state)
        default:
            return .error(.notFound)
        }
    }

    private func row(_ object: ObjectSchema, id: String, _ request: APIRequest, state: inout OrgState) -> APIResult {
        switch request.method {
        case "GET":
            guard let record = state.record(id) else {
                return .error(state.isDeleted(id) ? SalesforceError("ENTITY_IS_DELETED", "entity is deleted", status: 404) : .notFound)
            }
            return APIResult(status: 200, body: render(record, of: object, request, only: request.query["fields"]))
        case "PATCH":
            guard let fields = request.body?.objectValue else { return .error(bodyMustBeObject) }
            do {
                try state.atomically { (state: inout OrgState) throws(SalesforceError) in try state.update(object, id: id, fields: fields) }
                return APIResult(status: 204, recordsWritten: 1)
            } catch {
                return .error(error)
            }
        case "DELETE":
            do {
                try state.atomically { (state: inout OrgState) throws(SalesforceError) in try state.delete(id) }
                return APIResult(status: 204, recordsWritten: 1)
            } catch {
                return .error(error)
            }
        default:
            return .error(methodNotAllowed(request))
        }
    }

    private func byExternalId(
        _ object: ObjectSchema, field: FieldSchema, value: String, _ request: APIRequest, state: inout OrgState
    ) -> APIResult {
        switch request.method {
        case "GET", "DELETE":
            let matches = state.ids(of: object, where: field, equals: .string(value))
            if matches.count > 1 { return multipleChoices(object, matches, request) }
            guard let id = matches.first else { return .error(.notFound) }
            return row(object, id: id, request, state: &state)
        case "PATCH":
            guard let fields = request.body?.objectValue else { return .error(bodyMustBeObject) }
            if request.contendedKeys.contains(Self.contentionKey(object: object, field: field, value: value)),
                let existing = state.ids(of: object, where: field, equals: .string(value)).first
            {
                return .error(duplicateValue(field: field, id: existing))
            }
            do {
                let outcome = try state.atomically { (state: inout OrgState) throws(SalesforceError) in
                    try state.upsert(object, field: field, value: value, fields: fields)
                }
                let body: JSONValue = ["id": .string(outcome.id), "success": true, "errors": [], "created": .bool(outcome.created)]
                if outcome.created {
                    return APIResult(
                        status: 201, body: request.version >= 46 ? body : ["id": .string(outcome.id), "success": true, "errors": []],
                        headers: ["Location": "\(request.base)/sobjects/\(object.name)/\(outcome.id)"], recordsWritten: 1)
                }
                // Before v46 an update answered 204 without a body.
                return request.version >= 46 ? APIResult(status: 200, body: body, recordsWritten: 1) : APIResult(status: 204, recordsWritten: 1)
            } catch where error.status == 300 {
                return multipleChoices(object, state.ids(of: object, where: field, equals: .string(value)), request)
            } catch {
                return .error(error)
            }
        default:
            return .error(methodNotAllowed(request))
        }
    }

    private func multipleChoices(_ object: ObjectSchema, _ ids: [String], _ request: APIRequest) -> APIResult {
        APIResult(status: 300, body: .array(ids.map { .string("\(request.base)/sobjects/\(object.name)/\($0)") }))
    }

    // MARK: sObject Collections

    private func collections(_ request: APIRequest, state: inout OrgState) -> APIResult {
        let segments = request.segments
        if request.method == "DELETE" && segments.count == 2 {
            return deleteCollection(request, state: &state)
        }
        guard let body = request.body?.objectValue, let records = body["records"]?.arrayValue else {
            return .error(SalesforceError("JSON_PARSER_ERROR", "The request body must be an object with a records array"))
        }
        guard records.count <= Self.maxCollectionRecords else {
            return .error(SalesforceError("EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than 200 records into this call"))
        }
        let allOrNone = body["allOrNone"]?.boolValue ?? false
        let operation: (Int, JSONValue, inout OrgState) throws(SalesforceError) -> JSONValue
        switch (request.method, segments.count) {
        case ("POST", 2):
            operation = { _, record, state throws(SalesforceError) in
                let (object, fields) = try typed(record)
                let id = try state.create(object, fields: fields)
                return ["id": .string(id), "success": true, "errors": []]
            }
        case ("PATCH", 2):
            operation = { _, record, state throws(SalesforceError) in
                var (object, fields) = try typed(record)
                guard let key = fields.keys.first(where: { $0.lowercased() == "id" }), case .string(let text)? = fields[key] else {
                    throw SalesforceError("MISSING_ARGUMENT", "Id not specified in an update call")
                }
                guard let id = SalesforceIds.canonical(text), state.object(ofId: id)?.name == object.name else {
                    throw SalesforceError("MALFORMED_ID", "\(object.name) ID: id value of incorrect type: \(text)", fields: ["Id"])
                }
                fields[key] = nil
                do throws(SalesforceError) {
                    try state.update(object, id: id, fields: fields)
                } catch where error.code == "NOT_FOUND" {
                    throw SalesforceError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")
                }
                return ["id": .string(id), "success": true, "errors": []]
            }
        case ("PATCH", 4) where request.version >= 46:
            guard let object = schema.object(named: segments[2]) else {
                return .error(SalesforceError("NOT_FOUND", "The requested resource does not exist", status: 404))
            }
            guard let field = object.field(named: segments[3]), field.externalId || field.name == "Id" else {
                return .error(SalesforceError("NOT_FOUND", "Provided external ID field does not exist or is not accessible: \(segments[3])", status: 404))
            }
            let duplicates = duplicateKeys(in: records, field: field)
            operation = { index, record, state throws(SalesforceError) in
                let (recordObject, fields) = try typed(record)
                guard recordObject.name == object.name else {
                    throw SalesforceError("INVALID_FIELD", "Every record of an upsert must be of type \(object.name), not \(recordObject.name)")
                }
                guard let value = fields.first(where: { $0.key.lowercased() == field.name.lowercased() })?.value, value != .null else {
                    throw SalesforceError("MISSING_ARGUMENT", "\(field.name) not specified")
                }
                let text = value.stringValue ?? String(decoding: value.encoded(), as: UTF8.self)
                if duplicates.contains(index) {
                    throw SalesforceError("DUPLICATE_EXTERNAL_ID", "Duplicate external id specified: \(text)", fields: [field.name])
                }
                if request.contendedKeys.contains(Self.contentionKey(object: object, field: field, value: text)),
                    let existing = state.ids(of: object, where: field, equals: .string(text)).first
                {
                    throw duplicateValue(field: field, id: existing)
                }
                do throws(SalesforceError) {
                    let outcome = try state.upsert(object, field: field, value: text, fields: fields)
                    return ["id": .string(outcome.id), "success": true, "errors": [], "created": .bool(outcome.created)]
                } catch where error.status == 300 {
                    throw SalesforceError("DUPLICATE_EXTERNAL_ID", "Duplicate external id specified: \(text)", fields: [field.name])
                }
            }
        default:
            return .error(methodNotAllowed(request))
        }
        let results = runEach(records, allOrNone: allOrNone, state: &state, operation)
        let written = results.filter { $0["success"]?.boolValue == true }.count
        return APIResult(status: 200, body: .array(results), recordsWritten: written)
    }

    private func deleteCollection(_ request: APIRequest, state: inout OrgState) -> APIResult {
        let ids = (request.query["ids"] ?? "").split(separator: ",").map(String.init)
        guard ids.count <= Self.maxCollectionRecords else {
            return .error(SalesforceError("EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than 200 records into this call"))
        }
        let allOrNone = request.query["allOrNone"]?.lowercased() == "true"
        let results = runEach(ids.map(JSONValue.string), allOrNone: allOrNone, state: &state) { _, value, state throws(SalesforceError) in
            let text = value.stringValue ?? ""
            guard let id = SalesforceIds.canonical(text) else {
                throw SalesforceError("MALFORMED_ID", "malformed id \(text)")
            }
            do throws(SalesforceError) {
                try state.delete(id)
            } catch where error.code == "NOT_FOUND" {
                throw SalesforceError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")
            }
            return ["id": .string(id), "success": true, "errors": []]
        }
        return APIResult(status: 200, body: .array(results), recordsWritten: results.filter { $0["success"]?.boolValue == true }.count)
    }

    /// Applies `operation` to each record in order, each atomically; with `allOrNone`, one failure
    /// undoes every record and the others report ALL_OR_NONE_OPERATION_ROLLED_BACK.
    private func runEach(
        _ records: [JSONValue], allOrNone: Bool, state: inout OrgState,
        _ operation: (Int, JSONValue, inout OrgState) throws(SalesforceError) -> JSONValue
    ) -> [JSONValue] {
        struct RolledBack: Error {}
        var results: [JSONValue] = []
        var failed = false
        try? state.atomically { (state: inout OrgState) throws(RolledBack) in
            for (index, record) in records.enumerated() {
                do throws(SalesforceError) {
                    results.append(try state.atomically { (state: inout OrgState) throws(SalesforceError) in try operation(index, record, &state) })
                } catch {
                    failed = true
                    results.append(["success": false, "errors": [error.collectionBody]])
                }
            }
            if failed && allOrNone { throw RolledBack() }
        }
        guard failed && allOrNone else { return results }
        let rolledBack = SalesforceError(
            "ALL_OR_NONE_OPERATION_ROLLED_BACK", "Record rolled back because not all records were valid and the request was using AllOrNone header")
        return results.map { $0["success"]?.boolValue == true ? ["success": false, "errors": [rolledBack.collectionBody]] : $0 }
    }

    /// Indexes of records that share their external ID with another record of the same call.
    private func duplicateKeys(in records: [JSONValue], field: FieldSchema) -> Set<Int> {
        var seen: [String: [Int]] = [:]
        for (index, record) in records.enumerated() {
            guard let value = record.objectValue?.first(where: { $0.key.lowercased() == field.name.lowercased() })?.value,
                let key = (try? SalesforceValues.convert(value, for: field)).flatMap(field.key(of:))
            else { continue }
            seen[key, default: []].append(index)
        }
        return Set(seen.values.filter { $0.count > 1 }.flatMap { $0 })
    }

    /// A collection record's object (from `attributes.type`) and its fields.
    private func typed(_ record: JSONValue) throws(SalesforceError) -> (ObjectSchema, [String: JSONValue]) {
        guard let fields = record.objectValue else { throw SalesforceError("INVALID_TYPE", "Must send a concrete entity type.") }
        guard let typeName = fields["attributes"]?["type"]?.stringValue else {
            throw SalesforceError("INVALID_TYPE", "Must send a concrete entity type.")
        }
        guard let object = schema.object(named: typeName) else {
            throw SalesforceError("INVALID_TYPE", "sObject type '\(typeName)' is not supported.")
        }
        return (object, fields)
    }

    // MARK: Composite

    private func composite(_ request: APIRequest, state: inout OrgState) -> APIResult {
        guard let body = request.body?.objectValue, let subrequests = body["compositeRequest"]?.arrayValue else {
            return .error(SalesforceError("JSON_PARSER_ERROR", "The request body must be an object with a compositeRequest array"))
        }
        guard subrequests.count <= Self.maxCompositeSubrequests else {
            return .error(SalesforceError("LIMIT_EXCEEDED", "A composite request can contain at most 25 subrequests"))
        }
        var parsed: [(method: String, url: String, referenceId: String, body: JSONValue?)] = []
        var referenceIds: Set<String> = []
        var collectionsOrQueries = 0
        for subrequest in subrequests {
            guard let method = subrequest["method"]?.stringValue?.uppercased(), let url = subrequest["url"]?.stringValue,
                let referenceId = subrequest["referenceId"]?.stringValue
            else {
                return .error(SalesforceError("INVALID_INPUT", "Each subrequest needs method, url and referenceId"))
            }
            guard !referenceId.isEmpty, referenceId.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }),
                referenceIds.insert(referenceId).inserted
            else {
                return .error(SalesforceError("INVALID_INPUT", "Invalid or duplicate referenceId: \(referenceId)"))
            }
            if url.contains("/composite/sobjects") || url.contains("/query") { collectionsOrQueries += 1 }
            parsed.append((method, url, referenceId, subrequest["body"]))
        }
        guard collectionsOrQueries <= Self.maxCompositeCollectionsOrQueries else {
            return .error(SalesforceError("LIMIT_EXCEEDED", "A composite request can contain at most 5 sObject Collections or query subrequests"))
        }
        let allOrNone = body["allOrNone"]?.boolValue ?? false

        struct Halted: Error {}
        var responses: [JSONValue] = []
        var bodies: [String: JSONValue] = [:]
        var failedReferences: Set<String> = []
        var written = 0
        var failure: Int?
        try? state.atomically { (state: inout OrgState) throws(Halted) in
            for (index, subrequest) in parsed.enumerated() {
                let result: APIResult
                switch resolveReferences(subrequest.url, subrequest.body, bodies: bodies, failed: failedReferences) {
                case .failure(let error):
                    result = .error(error)
                case .success(let (url, subBody)):
                    result = dispatchSubrequest(method: subrequest.method, url: url, body: subBody, parent: request, state: &state)
                }
                let entry: JSONValue = [
                    "body": result.body ?? .null, "httpStatusCode": .number(Decimal(result.status)),
                    "referenceId": .string(subrequest.referenceId),
                    "httpHeaders": .object(result.headers.mapValues(JSONValue.string)),
                ]
                if result.status >= 400 {
                    failedReferences.insert(subrequest.referenceId)
                    if allOrNone {
                        failure = index
                        responses.append(entry)
                        throw Halted()
                    }
                } else {
                    bodies[subrequest.referenceId] = result.body ?? .null
                    written += result.recordsWritten
                }
                responses.append(entry)
            }
        }
        if let failure {
            // Everything was rolled back: every other subrequest reports PROCESSING_HALTED.
            let halted: JSONValue = [
                ["errorCode": "PROCESSING_HALTED", "message": "The transaction was rolled back since another operation in the same transaction failed."]
            ]
            responses = parsed.enumerated().map { index, subrequest in
                if index == failure { return responses[index] }
                return ["body": halted, "httpHeaders": [:], "httpStatusCode": 400, "referenceId": .string(subrequest.referenceId)]
            }
            written = 0
        }
        return APIResult(status: 200, body: ["compositeResponse": .array(responses)], recordsWritten: written)
    }

    private func dispatchSubrequest(method: String, url: String, body: JSONValue?, parent: APIRequest, state: inout OrgState) -> APIResult {
        let (path, query) = Self.split(url)
        guard let target = Self.versionedPath(path), target.segments.first != "composite" || target.segments.count > 1 else {
            return .error(SalesforceError("NOT_FOUND", "The requested resource does not exist", status: 404))
        }
        var subrequest = parent
        subrequest.method = method
        subrequest.version = target.version
        subrequest.versionText = target.versionText
        subrequest.segments = target.segments
        subrequest.query = query
        subrequest.body = body
        return handle(subrequest, state: &state)
    }

    /// Replaces `@{referenceId.path}` in a subrequest's URL and body with values from earlier responses.
    private func resolveReferences(
        _ url: String, _ body: JSONValue?, bodies: [String: JSONValue], failed: Set<String>
    ) -> Result<(String, JSONValue?), SalesforceError> {
        func substitute(_ text: String) throws(SalesforceError) -> String {
            var output = ""
            var rest = Substring(text)
            while let start = rest.range(of: "@{") {
                output += rest[..<start.lowerBound]
                guard let end = rest[start.upperBound...].firstIndex(of: "}") else {
                    throw SalesforceError("INVALID_INPUT", "Unterminated reference in \(text)")
                }
                let expression = String(rest[start.upperBound..<end])
                output += try value(of: expression)
                rest = rest[rest.index(after: end)...]
            }
            return output + rest
        }
        func value(of expression: String) throws(SalesforceError) -> String {
            let referenceId = String(expression.prefix { $0 != "." && $0 != "[" })
            let halted = SalesforceError(
                "PROCESSING_HALTED", "Invalid reference specified. No value for \(expression) found in \(referenceId). Provided referenceId ('\(referenceId)') must be a previous subrequest that succeeded.")
            guard !failed.contains(referenceId), var current = bodies[referenceId] else { throw halted }
            var path = Substring(expression.dropFirst(referenceId.count))
            while !path.isEmpty {
                if path.hasPrefix(".") {
                    path = path.dropFirst()
                    let key = path.prefix { $0 != "." && $0 != "[" }
                    guard let next = current[String(key)] else { throw halted }
                    current = next
                    path = path.dropFirst(key.count)
                } else if path.hasPrefix("["), let close = path.firstIndex(of: "]"), let index = Int(path[path.index(after: path.startIndex)..<close]),
                    let array = current.arrayValue, array.indices.contains(index)
                {
                    current = array[index]
                    path = path[path.index(after: close)...]
                } else {
                    throw halted
                }
            }
            switch current {
            case .string(let text): return text
            case .number(let number): return "\(number)"
            case .bool(let flag): return "\(flag)"
            default: throw halted
            }
        }
        func walk(_ json: JSONValue) throws(SalesforceError) -> JSONValue {
            switch json {
            case .string(let text): return .string(try substitute(text))
            case .array(let items):
                var mapped: [JSONValue] = []
                for item in items { mapped.append(try walk(item)) }
                return .array(mapped)
            case .object(let fields):
                var mapped: [String: JSONValue] = [:]
                for (key, item) in fields { mapped[key] = try walk(item) }
                return .object(mapped)
            default: return json
            }
        }
        do {
            return .success((try substitute(url), try body.map(walk)))
        } catch {
            return .failure(error)
        }
    }

    // MARK: Query

    private func query(_ request: APIRequest, state: inout OrgState) -> APIResult {
        if request.segments.count == 2 {
            guard let page = cursors.page(locator: request.segments[1], base: request.base) else {
                return .error(SalesforceError("INVALID_QUERY_LOCATOR", "invalid query locator"))
            }
            return APIResult(status: 200, body: page)
        }
        guard request.segments.count == 1, let text = request.query["q"], !text.isEmpty else {
            return .error(SalesforceError("MALFORMED_QUERY", "A query string (q) is required"))
        }
        let query: SOQLQuery
        do {
            query = try SOQLParser.parse(text).resolved(against: SchemaForQueries(schema: schema))
        } catch {
            return .error(SalesforceError(error.code, error.message))
        }
        guard let object = schema.object(named: query.object) else { return .error(.notFound) }
        let rows = state.allRecords(of: object.name).map { QueryRow(record: $0, object: object, state: state) }
        let matches = query.run(over: rows)
        guard case .fields(let paths) = query.selection else {
            return APIResult(status: 200, body: ["totalSize": .number(Decimal(matches.count)), "done": true, "records": []])
        }
        let records = matches.map { row in project(row, paths: paths, object: object, request) }
        return APIResult(status: 200, body: cursors.firstPage(of: records, batchSize: request.batchSize, base: request.base))
    }

    /// The selected fields of a row, parents nested under their relationship name.
    private func project(_ row: QueryRow, paths: [[String]], object: ObjectSchema, _ request: APIRequest) -> JSONValue {
        var fields: [String: JSONValue] = ["attributes": attributes(object, row.record, request)]
        var parents: [String: [String: JSONValue]] = [:]
        for path in paths {
            if path.count == 1 {
                fields[path[0]] = SalesforceValues.json(row.record[path[0]] ?? .null)
            } else if let reference = object.reference(relationship: path[0]), let parentObject = schema.object(named: reference.referenceTo ?? "") {
                guard let parent = row.parent(path[0]) else {
                    fields[path[0]] = .null
                    continue
                }
                var nested = parents[path[0]] ?? ["attributes": attributes(parentObject, parent, request)]
                nested[path[1]] = SalesforceValues.json(parent[path[1]] ?? .null)
                parents[path[0]] = nested
            }
        }
        for (relationship, nested) in parents { fields[relationship] = .object(nested) }
        return .object(fields)
    }

    // MARK: Rendering and describing

    func render(_ record: SObjectRecord, of object: ObjectSchema, _ request: APIRequest, only list: String? = nil) -> JSONValue {
        let wanted = list.map { Set($0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }) }
        var fields: [String: JSONValue] = ["attributes": attributes(object, record, request)]
        for field in object.fields where wanted?.contains(field.name.lowercased()) ?? true {
            fields[field.name] = SalesforceValues.json(record[field.name] ?? .null)
        }
        return .object(fields)
    }

    private func attributes(_ object: ObjectSchema, _ record: SObjectRecord, _ request: APIRequest) -> JSONValue {
        let id = record["Id"].flatMap { if case .string(let id) = $0 { id } else { nil } } ?? ""
        return ["type": .string(object.name), "url": .string("\(request.base)/sobjects/\(object.name)/\(id)")]
    }

    private func describeGlobal(_ request: APIRequest) -> APIResult {
        APIResult(
            status: 200,
            body: ["encoding": "UTF-8", "maxBatchSize": 200, "sobjects": .array(schema.objects.map { objectSummary($0, request) })])
    }

    private func objectSummary(_ object: ObjectSchema, _ request: APIRequest) -> JSONValue {
        [
            "name": .string(object.name), "keyPrefix": .string(object.keyPrefix), "custom": .bool(object.name.hasSuffix("__c")),
            "createable": true, "updateable": true, "deletable": true, "queryable": true,
            "urls": ["sobject": .string("\(request.base)/sobjects/\(object.name)"), "describe": .string("\(request.base)/sobjects/\(object.name)/describe")],
        ]
    }

    /// The field list Salesforce's describe call gives, enough for a client to learn types and lengths.
    private func describe(_ object: ObjectSchema, _ request: APIRequest) -> JSONValue {
        let fields: [JSONValue] = object.fields.map { field in
            [
                "name": .string(field.name), "type": .string(field.type.rawValue),
                "length": .number(Decimal(field.length ?? 0)), "nillable": .bool(!field.required && !field.readOnly),
                "externalId": .bool(field.externalId), "unique": .bool(field.unique), "caseSensitive": .bool(field.caseSensitive),
                "createable": .bool(!field.readOnly), "updateable": .bool(!field.readOnly && !field.createOnly),
                "defaultedOnCreate": .bool(field.defaultValue != nil),
                "restrictedPicklist": .bool(field.restricted),
                "picklistValues": .array((field.picklist ?? []).map { ["value": .string($0), "label": .string($0), "active": true] }),
                "referenceTo": .array(field.referenceTo.map { [.string($0)] } ?? []),
                "relationshipName": field.relationshipName.map(JSONValue.string) ?? .null,
            ]
        }
        var summary = objectSummary(object, request).objectValue ?? [:]
        summary["fields"] = .array(fields)
        return .object(summary)
    }

    // MARK: Helpers

    static func contentionKey(object: ObjectSchema, field: FieldSchema, value: String) -> String {
        "\(object.name)|\(field.name)|\(field.key(of: .string(value)) ?? value)"
    }

    private func duplicateValue(field: FieldSchema, id: String) -> SalesforceError {
        SalesforceError("DUPLICATE_VALUE", "duplicate value found: \(field.name) duplicates value on record with id: \(id)")
    }

    private var bodyMustBeObject: SalesforceError {
        SalesforceError("JSON_PARSER_ERROR", "The request body must be a JSON object of field values")
    }

    private func methodNotAllowed(_ request: APIRequest) -> SalesforceError {
        SalesforceError("METHOD_NOT_ALLOWED", "HTTP Method '\(request.method)' not allowed. Allowed are GET,PATCH,DELETE,POST", status: 405)
    }

    /// `/services/data/v62.0/sobjects/Account` → version 62 and the segments after it.
    static func versionedPath(_ path: String) -> (version: Int, versionText: String, segments: [String])? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true).map { PercentCoding.decode($0) ?? String($0) }
        guard parts.count >= 3, parts[0] == "services", parts[1] == "data", parts[2].hasPrefix("v") else { return nil }
        let number = parts[2].dropFirst()
        guard number.hasSuffix(".0"), let major = Int(number.dropLast(2)), (20...66).contains(major) else { return nil }
        return (major, parts[2], Array(parts.dropFirst(3)))
    }

    static func split(_ url: String) -> (path: String, query: [String: String]) {
        guard let mark = url.firstIndex(of: "?") else { return (url, [:]) }
        var query: [String: String] = [:]
        for (name, value) in QueryString.parameters(String(url[url.index(after: mark)...])) { query[name] = value }
        return (String(url[..<mark]), query)
    }
}

/// One record as the SOQL evaluator sees it, with its parents reachable by relationship name.
struct QueryRow: SOQLRow {
    let record: SObjectRecord
    private let parents: [String: SObjectRecord]

    init(record: SObjectRecord, object: ObjectSchema, state: borrowing OrgState) {
        self.record = record
        var parents: [String: SObjectRecord] = [:]
        for field in object.fields where field.type == .reference {
            if let relationship = field.relationshipName, case .string(let id)? = record[field.name], let parent = state.record(id) {
                parents[relationship] = parent
            }
        }
        self.parents = parents
    }

    func parent(_ relationship: String) -> SObjectRecord? { parents[relationship] }

    func value(at path: [String]) -> FieldValue {
        switch path.count {
        case 1: record[path[0]] ?? .null
        case 2: parents[path[0]]?[path[1]] ?? .null
        default: .null
        }
    }
}

/// The org's schema as the SOQL resolver needs it.
struct SchemaForQueries: SOQLSchema {
    let schema: SalesforceSchema

    func objectName(matching name: String) -> String? { schema.object(named: name)?.name }

    func field(_ path: [String], on object: String) -> (path: [String], kind: SOQLFieldKind)? {
        guard let object = schema.object(named: object) else { return nil }
        switch path.count {
        case 1:
            guard let field = object.field(named: path[0]) else { return nil }
            return ([field.name], field.type.soqlKind)
        case 2:
            guard let reference = object.reference(relationship: path[0]), let relationship = reference.relationshipName,
                let parent = schema.object(named: reference.referenceTo ?? ""), let field = parent.field(named: path[1])
            else { return nil }
            return ([relationship, field.name], field.type.soqlKind)
        default:
            return nil
        }
    }
}

/// Open query results, paged through `nextRecordsUrl`; a locator lives 15 minutes, as in Salesforce.
final class QueryCursors: Sendable {
    private struct Cursor {
        let records: [JSONValue]
        let batchSize: Int
        let expires: ContinuousClock.Instant
    }

    private struct State {
        var cursors: [String: Cursor] = [:]
        var sequence = 0
    }

    private let state = Mutex(State())
    private static let lifetime = Duration.seconds(15 * 60)

    func firstPage(of records: [JSONValue], batchSize: Int, base: String) -> JSONValue {
        guard records.count > batchSize else {
            return ["totalSize": .number(Decimal(records.count)), "done": true, "records": .array(records)]
        }
        let locator = state.withLock { state in
            let now = ContinuousClock.now
            state.cursors = state.cursors.filter { $0.value.expires > now }
            state.sequence += 1
            let locator = SalesforceIds.make(keyPrefix: "01g", sequence: state.sequence)
            state.cursors[locator] = Cursor(records: records, batchSize: batchSize, expires: now + Self.lifetime)
            return locator
        }
        return [
            "totalSize": .number(Decimal(records.count)), "done": false,
            "nextRecordsUrl": .string("\(base)/query/\(locator)-\(batchSize)"),
            "records": .array(Array(records.prefix(batchSize))),
        ]
    }

    /// The page at `<locator>-<offset>`, or nil for an unknown or expired locator.
    func page(locator text: String, base: String) -> JSONValue? {
        guard let dash = text.lastIndex(of: "-"), let offset = Int(text[text.index(after: dash)...]) else { return nil }
        let locator = String(text[..<dash])
        return state.withLock { state -> JSONValue? in
            guard let cursor = state.cursors[locator], cursor.expires > .now, offset >= 0, offset < cursor.records.count else { return nil }
            let end = min(offset + cursor.batchSize, cursor.records.count)
            var page: [String: JSONValue] = [
                "totalSize": .number(Decimal(cursor.records.count)), "done": .bool(end == cursor.records.count),
                "records": .array(Array(cursor.records[offset..<end])),
            ]
            if end < cursor.records.count {
                page["nextRecordsUrl"] = .string("\(base)/query/\(locator)-\(end)")
            } else {
                state.cursors[locator] = nil
            }
            return .object(page)
        }
    }

    func reset() {
        state.withLock { $0 = State() }
    }
}
