import Contract
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SandboxCore
import Synchronization

/// The simulated Salesforce org: OAuth token endpoint, REST API (sObject rows, upsert by external
/// ID, sObject Collections, composite, query), API limits and the org's data rules.
public final class SalesforceSandbox: SandboxSystem {
    public let name = "salesforce"
    public let org: SalesforceOrg
    private let settings: SalesforceSettings
    private let environment: SandboxEnvironment
    private let auth: SalesforceAuth
    private let usage: DailyUsage
    private let cursors = QueryCursors()
    /// External-ID keys being inserted right now, with how many requests are inserting each.
    private let insertsInFlight = Mutex<[String: Int]>([:])

    public static func make(settings: SalesforceSettings, environment: SandboxEnvironment) async throws -> SalesforceSandbox {
        let schema = try settings.schemaFile.map { try SalesforceSchema.load(from: URL(fileURLWithPath: $0)) } ?? SalesforceSchema.bundled()
        return SalesforceSandbox(
            settings: settings, environment: environment, schema: schema, auth: try await SalesforceAuth(settings: settings))
    }

    private init(settings: SalesforceSettings, environment: SandboxEnvironment, schema: SalesforceSchema, auth: SalesforceAuth) {
        self.settings = settings
        self.environment = environment
        self.auth = auth
        org = SalesforceOrg(schema: schema)
        usage = DailyUsage(allocation: settings.dailyApiRequests)
    }

    // MARK: Routes

    public func addRoutes(to router: Router<SandboxRequestContext>) {
        router.post("/services/oauth2/token") { request, context in
            try await self.token(request, context: context)
        }
        // The versions root: no authentication and no Sforce-Limit-Info, as in Salesforce.
        router.get("/services/data") { _, _ in
            let versions: [JSONValue] = (40...66).map { major in
                ["label": .string("v\(major).0"), "url": .string("/services/data/v\(major).0"), "version": .string("\(major).0")]
            }
            return Self.response(200, body: .array(versions))
        }
        for method in [HTTPRequest.Method.get, .post, .patch, .put, .delete] {
            router.on("/services/data/**", method: method) { request, context in
                try await self.api(request, context: context)
            }
        }
    }

    private func token(_ request: Request, context: SandboxRequestContext) async throws -> Response {
        let body = try await request.body.collect(upTo: context.maxUploadSize)
        var form: [String: String] = [:]
        for (name, value) in QueryString.parameters(String(buffer: body)) { form[name] = value }
        environment.statistics.call("oauth2.token")
        let answer = await auth.token(
            form: form, authorization: request.headers[.authorization], instanceURL: "http://\(request.head.authority ?? "127.0.0.1")")
        return Self.response(answer.status, body: answer.body, headers: [.cacheControl: "no-cache, no-store"])
    }

    private func api(_ request: Request, context: SandboxRequestContext) async throws -> Response {
        guard auth.isValid(authorization: request.headers[.authorization]) else {
            return Self.response(
                401, body: [["message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"]],
                headers: [.wwwAuthenticate: "Token"])
        }
        guard let target = SalesforceAPI.versionedPath(request.uri.path) else {
            return errorResponse(status: .notFound, message: "The requested resource does not exist")
        }
        guard usage.consume() else {
            return Self.response(403, body: [["message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"]], headers: limitHeader)
        }
        let raw = try await request.body.collect(upTo: context.maxUploadSize)
        var body: JSONValue?
        if raw.readableBytes > 0 {
            guard let parsed = JSONValue.parse(raw.readableBytesView) else {
                return Self.response(
                    400, body: [["message": "Unexpected character: the request body is not valid JSON", "errorCode": "JSON_PARSER_ERROR"]],
                    headers: limitHeader)
            }
            body = parsed
        }
        // Form encoding: `+` is a space, as Salesforce reads it (curl --data-urlencode sends spaces so).
        let query = SalesforceAPI.split("?" + (request.uri.query ?? "")).query
        var apiRequest = APIRequest(
            method: request.method.rawValue, version: target.version, versionText: target.versionText, segments: target.segments,
            query: query, body: body, batchSize: batchSize(request.headers[HTTPField.Name("Sforce-Query-Options")!]))

        let inserting = newExternalIdKeys(apiRequest)
        apiRequest.contendedKeys = beginInserts(inserting)
        defer { endInserts(inserting) }
        if !inserting.isEmpty && settings.insertCommitMs > 0 {
            try await Task.sleep(for: .milliseconds(settings.insertCommitMs))
        }

        let api = SalesforceAPI(schema: org.schema, cursors: cursors)
        var result = org.transaction { state in api.handle(apiRequest, state: &state) }
        if target.segments == ["limits"] {
            result.body = ["DailyApiRequests": ["Max": .number(Decimal(usage.allocation)), "Remaining": .number(Decimal(usage.remaining))]]
        }
        let isWrite = ["POST", "PATCH", "PUT", "DELETE"].contains(apiRequest.method) && target.segments.first != "query"
        environment.statistics.call(Self.operation(apiRequest), recordsWritten: isWrite ? result.recordsWritten : nil)
        var headers = limitHeader
        for (name, value) in result.headers {
            if let field = HTTPField.Name(name) { headers[field] = value }
        }
        return Self.response(result.status, body: result.body, headers: headers)
    }

    /// The external-ID keys of an upsert that no record holds yet: the inserts that can collide.
    private func newExternalIdKeys(_ request: APIRequest) -> [String] {
        guard request.method == "PATCH" else { return [] }
        let segments = request.segments
        let objectName: String
        let fieldName: String
        var values: [String] = []
        if segments.count == 4, segments[0] == "sobjects" {
            (objectName, fieldName, values) = (segments[1], segments[2], [segments[3]])
        } else if segments.count == 4, segments[0] == "composite", segments[1] == "sobjects" {
            (objectName, fieldName) = (segments[2], segments[3])
            values = (request.body?["records"]?.arrayValue ?? []).compactMap { record in
                record.objectValue?.first(where: { $0.key.lowercased() == fieldName.lowercased() })?.value.stringValue
            }
        } else {
            return []
        }
        guard let object = org.schema.object(named: objectName), let field = object.field(named: fieldName), field.externalId else { return [] }
        return org.transaction { state in
            values.filter { state.ids(of: object, where: field, equals: .string($0)).isEmpty }
                .map { SalesforceAPI.contentionKey(object: object, field: field, value: $0) }
        }
    }

    /// Registers inserts in flight; returns the keys another request was already inserting.
    private func beginInserts(_ keys: [String]) -> Set<String> {
        guard !keys.isEmpty else { return [] }
        return insertsInFlight.withLock { inFlight in
            var contended: Set<String> = []
            for key in keys {
                if inFlight[key, default: 0] > 0 { contended.insert(key) }
                inFlight[key, default: 0] += 1
            }
            return contended
        }
    }

    private func endInserts(_ keys: [String]) {
        guard !keys.isEmpty else { return }
        insertsInFlight.withLock { inFlight in
            for key in keys {
                inFlight[key, default: 1] -= 1
                if inFlight[key] == 0 { inFlight[key] = nil }
            }
        }
    }

    private func batchSize(_ header: String?) -> Int {
        guard let header, let value = header.split(separator: "=").last.flatMap({ Int($0.trimmingCharacters(in: .whitespaces)) }) else {
            return settings.queryBatchSize
        }
        return min(max(value, 200), 2000)
    }

    /// A name for the statistics, e.g. `sobjects.upsert` or `collections.create`.
    private static func operation(_ request: APIRequest) -> String {
        let segments = request.segments
        switch (request.method, segments.first, segments.count) {
        case ("PATCH", "sobjects", 4): return "sobjects.upsert"
        case ("POST", "sobjects", _): return "sobjects.create"
        case ("PATCH", "sobjects", _): return "sobjects.update"
        case ("DELETE", "sobjects", _): return "sobjects.delete"
        case ("GET", "sobjects", _): return "sobjects.read"
        case ("POST", "composite", 2): return "collections.create"
        case ("PATCH", "composite", 2): return "collections.update"
        case ("PATCH", "composite", 4): return "collections.upsert"
        case ("DELETE", "composite", _): return "collections.delete"
        case (_, "composite", 1): return "composite"
        case (_, "query", _), (_, "queryAll", _): return "query"
        default: return segments.first ?? "other"
        }
    }

    private var limitHeader: HTTPFields {
        [HTTPField.Name("Sforce-Limit-Info")!: "api-usage=\(usage.used)/\(usage.allocation)"]
    }

    static func response(_ status: Int, body: JSONValue?, headers: HTTPFields = [:]) -> Response {
        var headers = headers
        guard let body else { return Response(status: .init(code: status), headers: headers) }
        headers[.contentType] = "application/json;charset=UTF-8"
        return Response(status: .init(code: status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body.encoded())))
    }

    // MARK: SandboxSystem

    public func errorResponse(status: HTTPResponse.Status, message: String) -> Response {
        let code: String
        switch status.code {
        case 400: code = "UNABLE_TO_LOCK_ROW"
        case 403: code = "REQUEST_LIMIT_EXCEEDED"
        case 404: code = "NOT_FOUND"
        case 405: code = "METHOD_NOT_ALLOWED"
        case 413: code = "REQUEST_TOO_LARGE"
        case 500: code = "UNKNOWN_EXCEPTION"
        case 502, 503: code = "SERVER_UNAVAILABLE"
        default: code = "UNKNOWN_EXCEPTION"
        }
        let text: String
        switch code {
        case "UNABLE_TO_LOCK_ROW": text = "unable to obtain exclusive access to this record or 1 records"
        case "REQUEST_LIMIT_EXCEEDED": text = "ConcurrentPerOrgLongTxn Limit exceeded."
        default: text = message
        }
        return Self.response(status.code, body: [["message": .string(text), "errorCode": .string(code)]], headers: limitHeader)
    }

    public func concurrencyLimitResponse() -> Response {
        Self.response(403, body: [["message": "ConcurrentPerOrgLongTxn Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"]], headers: limitHeader)
    }

    public func isWrite(_ request: Request) -> Bool {
        request.uri.path.hasPrefix("/services/data/") && [.post, .patch, .put, .delete].contains(request.method)
            && !request.uri.path.contains("/query")
    }

    public func expireSessions() { auth.expireAll() }

    public func reset() {
        org.reset()
        cursors.reset()
        usage.reset()
        auth.expireAll()
    }

    public func recordCounts() -> [String: Int] {
        org.transaction { $0.counts() }
    }

    public func records(ofType type: String) -> [JSONValue]? {
        guard let object = org.schema.object(named: type) else { return nil }
        let request = APIRequest(method: "GET", version: 66, versionText: "v66.0", segments: [], query: [:], body: nil, batchSize: 2000)
        let api = SalesforceAPI(schema: org.schema, cursors: cursors)
        return org.transaction { state in state.allRecords(of: object.name).map { api.render($0, of: object, request) } }
    }

    public func statisticsDetails() -> [String: JSONValue] {
        [
            "apiUsage": ["used": .number(Decimal(usage.used)), "allocation": .number(Decimal(usage.allocation))],
            "liveSessions": .number(Decimal(auth.liveSessions)),
        ]
    }
}

/// The org's rolling 24-hour API request count against its allocation.
final class DailyUsage: Sendable {
    let allocation: Int
    /// Requests per hour, oldest first, for the last 24 hours.
    private let hours = Mutex<[(hour: Int, count: Int)]>([])

    init(allocation: Int) { self.allocation = allocation }

    var used: Int { hours.withLock { Self.current(&$0) } }
    var remaining: Int { max(0, allocation - used) }

    /// Counts one request; false when the allocation is used up.
    func consume() -> Bool {
        hours.withLock { hours in
            guard Self.current(&hours) < allocation else { return false }
            let hour = Self.hourNow()
            if hours.last?.hour == hour {
                hours[hours.count - 1].count += 1
            } else {
                hours.append((hour, 1))
            }
            return true
        }
    }

    func reset() { hours.withLock { $0.removeAll() } }

    private static func current(_ hours: inout [(hour: Int, count: Int)]) -> Int {
        let oldest = hourNow() - 23
        hours.removeAll { $0.hour < oldest }
        return hours.reduce(0) { $0 + $1.count }
    }

    private static func hourNow() -> Int { Int(Date().timeIntervalSince1970 / 3600) }
}
