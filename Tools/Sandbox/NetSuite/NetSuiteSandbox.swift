import Contract
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SandboxCore
import Synchronization

/// The simulated NetSuite account: token-based authentication and OAuth 2.0 client credentials, the
/// REST record service (`/services/rest/record/v1`), its error format, and the account's data rules.
public final class NetSuiteSandbox: SandboxSystem {
    public let name = "netsuite"
    private let environment: SandboxEnvironment
    private let schema: NetSuiteSchema
    /// `publicBaseURL` normalized; nil to build URLs from the Host header.
    private let publicOrigin: String?
    private let seededData: AccountData
    private let data: Mutex<AccountData>
    private let tokenAuthentication: TokenBasedAuthentication
    private let clientCredentials: ClientCredentialsAuthentication
    private let loginAudit = LoginAudit()
    /// Properties requests carried that were not written, by record type and path, e.g. `customer.foo`.
    private let ignoredProperties = Mutex<[String: Int]>([:])

    private static let propertyNameValidationHeader = HTTPField.Name("X-NetSuite-PropertyNameValidation")!

    public static func make(settings: NetSuiteSettings, environment: SandboxEnvironment) async throws -> NetSuiteSandbox {
        let problems = settings.validationProblems()
        guard problems.isEmpty else { throw NetSuiteSetupError(source: "netsuite settings", problem: problems.joined(separator: "; ")) }
        let schema = try settings.recordsFile.map { try NetSuiteSchema.load(from: URL(fileURLWithPath: $0)) } ?? NetSuiteSchema.bundled()
        return NetSuiteSandbox(
            settings: settings, environment: environment, schema: schema, seededData: try AccountData.seeded(schema: schema),
            clientCredentials: try await ClientCredentialsAuthentication(settings: settings))
    }

    private init(
        settings: NetSuiteSettings, environment: SandboxEnvironment, schema: NetSuiteSchema, seededData: AccountData,
        clientCredentials: ClientCredentialsAuthentication
    ) {
        self.environment = environment
        self.schema = schema
        self.seededData = seededData
        self.clientCredentials = clientCredentials
        publicOrigin = settings.publicBaseURL.flatMap(PublicBaseURL.init)?.text
        data = Mutex(seededData)
        tokenAuthentication = TokenBasedAuthentication(settings: settings)
    }

    // MARK: Routes

    public func addRoutes(to router: Router<SandboxRequestContext>) {
        router.post(RouterPath(ClientCredentialsAuthentication.tokenPath)) { request, context in
            try await self.token(request, context: context)
        }
        for method in [HTTPRequest.Method.get, .post, .put, .patch, .delete] {
            router.on(RouterPath("\(RecordPaths.recordService)/**"), method: method) { request, context in
                try await self.recordService(request, context: context)
            }
        }
    }

    /// `http://` and the Host header: what a client calling the sandbox directly signs.
    private func hostOrigin(_ request: Request) -> String {
        BaseURI.origin(scheme: "http", authority: request.head.authority ?? "localhost")
    }

    private func origin(_ request: Request) -> String { publicOrigin ?? hostOrigin(request) }

    private func token(_ request: Request, context: SandboxRequestContext) async throws -> Response {
        let body = try await request.body.collect(upTo: context.maxUploadSize)
        var form: [String: String] = [:]
        for (name, value) in QueryString.parameters(String(buffer: body)) { form[name] = value }
        environment.statistics.call("oauth2.token")
        let audiences = Set([hostOrigin(request), origin(request)].map { $0 + ClientCredentialsAuthentication.tokenPath })
        let answer = await clientCredentials.token(form: form, audiences: audiences)
        if let failure = answer.failure { loginAudit.record(failure) }
        return NetSuiteResponse.json(answer.body, status: answer.status, contentType: "application/json", headers: [.cacheControl: "no-store"])
    }

    private func authenticate(_ request: Request, origin: String) throws(LoginFailure) {
        guard let authorization = request.headers[.authorization] else {
            throw LoginFailure(reason: "MissingAuthorization", consumerKey: nil)
        }
        if authorization.lowercased().hasPrefix("bearer ") {
            try clientCredentials.verify(bearer: authorization.dropFirst(7).trimmingCharacters(in: .whitespaces))
        } else {
            try tokenAuthentication.verify(
                TokenBasedAuthentication.SignedRequest(
                    method: request.method.rawValue, baseURI: origin + request.uri.path,
                    queryParameters: QueryString.parameters(request.uri.query), authorization: authorization))
        }
    }

    // MARK: Record service

    /// A parsed `/services/rest/record/v1/…` request.
    private struct RecordRequest {
        let method: HTTPRequest.Method
        /// Path segments after `/record/v1/`, percent-decoded: type, then ID or `eid:…`, then sublist.
        let segments: [String]
        let query: [String: String]
        let body: ByteBuffer
        let origin: String
        let propertyNameValidation: PropertyNameValidation

        var operation: String {
            switch (method, segments.count) {
            case (.get, 1): "record.list"
            case (.get, 2): "record.get"
            case (.get, _): "record.sublist"
            case (.post, _): "record.create"
            case (.patch, _): "record.update"
            case (.put, _): "record.upsert"
            case (.delete, _): "record.delete"
            default: "record.other"
            }
        }
    }

    private func recordService(_ request: Request, context: SandboxRequestContext) async throws -> Response {
        let origin = origin(request)
        do throws(LoginFailure) {
            try authenticate(request, origin: origin)
        } catch {
            loginAudit.record(error)
            environment.statistics.call("login.rejected")
            return NetSuiteResponse.error(.invalidLogin)
        }
        let segments = request.uri.path.dropFirst(RecordPaths.recordService.count).split(separator: "/").map { segment in
            PercentCoding.decode(segment) ?? String(segment)
        }
        var query: [String: String] = [:]
        for (name, value) in QueryString.parameters(request.uri.query) { query[name] = value }
        let recordRequest = RecordRequest(
            method: request.method, segments: segments, query: query, body: try await request.body.collect(upTo: context.maxUploadSize),
            origin: origin, propertyNameValidation: PropertyNameValidation(header: request.headers[Self.propertyNameValidationHeader]))

        let writes = isWrite(request)
        var written = 0
        defer { environment.statistics.call(recordRequest.operation, recordsWritten: writes ? written : nil) }
        do throws(NetSuiteError) {
            guard let typeName = segments.first, let type = schema.recordType(named: typeName) else {
                throw .unknownRecordType(segments.first ?? "")
            }
            let response = try handle(recordRequest, type: type)
            if writes { written = 1 }
            return response
        } catch {
            return NetSuiteResponse.error(error)
        }
    }

    private func handle(_ request: RecordRequest, type: RecordType) throws(NetSuiteError) -> Response {
        let segments = request.segments
        switch (request.method, segments.count) {
        case (.get, 1):
            return try list(type, request)
        case (.post, 1):
            return try write(request, type: type) { data, body, options throws(NetSuiteError) in
                try data.create(type, body: body, options: options)
            }
        case (.get, 2):
            return try read(type, segments[1], request)
        case (.get, 3):
            return try readSublist(type, segments[1], sublistName: segments[2], request)
        case (.patch, 2):
            return try write(request, type: type) { data, body, options throws(NetSuiteError) in
                let id = try Self.internalId(segments[1], of: type, in: data)
                return try data.update(type, id: id, body: body, options: options)
            }
        case (.put, 2):
            // An existing record is updated like PATCH: its sublist lines are merged unless `?replace=`
            // names the sublist (unverified for upsert; it keeps clients honest about retries).
            guard segments[1].hasPrefix("eid:") else {
                // Unverified: NetSuite upserts only by external ID.
                throw NetSuiteError(
                    status: 405, code: "USER_ERROR", detail: "PUT is supported only with an external ID in the URL: …/\(type.name)/eid:{externalId}.")
            }
            let externalId = String(segments[1].dropFirst(4))
            return try write(request, type: type) { data, body, options throws(NetSuiteError) in
                try data.upsert(type, externalId: externalId, body: body, options: options)
            }
        case (.delete, 2):
            try data.withLock { data throws(NetSuiteError) in
                let id = try Self.internalId(segments[1], of: type, in: data)
                try data.delete(type, id: id)
            }
            return NetSuiteResponse.noContent(headers: [:])
        case (_, 1...3):
            throw NetSuiteError.forStatus(405, message: "The request method \(request.method.rawValue) is not supported for this resource.")
        default:
            throw NetSuiteError.forStatus(404, message: "The requested resource does not exist.")
        }
    }

    /// The internal ID a URL segment names: `123` or `eid:{externalId}`.
    private static func internalId(_ segment: String, of type: RecordType, in data: AccountData) throws(NetSuiteError) -> Int {
        let id = segment.hasPrefix("eid:") ? data.id(of: type, externalId: String(segment.dropFirst(4))) : InternalId.parse(segment)
        guard let id, data.record(type, id: id) != nil else { throw .nonexistentId }
        return id
    }

    private func write(
        _ request: RecordRequest, type: RecordType,
        _ operation: (inout AccountData, JSONValue, WriteOptions) throws(NetSuiteError) -> WriteOutcome
    ) throws(NetSuiteError) -> Response {
        guard let body = JSONValue.parse(request.body.readableBytesView) else { throw .invalidJSON }
        let replace = (request.query["replace"] ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        let options = WriteOptions(propertyNameValidation: request.propertyNameValidation, replaceSublists: Set(replace))
        let outcome = try data.withLock { data throws(NetSuiteError) in try operation(&data, body, options) }

        var headers: HTTPFields = [.location: RecordPaths.record(outcome.key, origin: request.origin)]
        if !outcome.ignoredProperties.isEmpty {
            countIgnored(outcome.ignoredProperties, of: type)
            if request.propertyNameValidation == .warning {
                // Unverified: the header NetSuite names the ignored properties in.
                headers[NetSuiteResponse.warningHeader] = "Ignored properties: \(outcome.ignoredProperties.joined(separator: ", "))"
            }
        }
        return NetSuiteResponse.noContent(headers: headers)
    }

    private func countIgnored(_ paths: [String], of type: RecordType) {
        ignoredProperties.withLock { counts in
            for path in paths {
                // Line indexes are dropped so `item.items[0].x` and `item.items[1].x` count together.
                let general = path.replacingOccurrences(of: #"\[\d+\]"#, with: "[]", options: .regularExpression)
                counts["\(type.name).\(general)", default: 0] += 1
            }
        }
    }

    private func read(_ type: RecordType, _ segment: String, _ request: RecordRequest) throws(NetSuiteError) -> Response {
        var options = RenderOptions(origin: request.origin)
        options.expandSubResources = request.query["expandSubResources"]?.lowercased() == "true"
        if let fields = request.query["fields"] {
            options.fields = Set(fields.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() })
        }
        let body = try data.withLock { data throws(NetSuiteError) in
            let id = try Self.internalId(segment, of: type, in: data)
            guard let record = data.record(type, id: id) else { throw NetSuiteError.nonexistentId }
            return data.render(record, type: type, options: options)
        }
        return NetSuiteResponse.json(body, contentType: NetSuiteResponse.recordType)
    }

    private func readSublist(_ type: RecordType, _ segment: String, sublistName: String, _ request: RecordRequest) throws(NetSuiteError) -> Response {
        guard let sublist = type.sublist(named: sublistName) else {
            // Unverified wording and code.
            throw NetSuiteError(status: 404, code: "NONEXISTENT_ID", detail: "The sub-resource '\(sublistName)' does not exist.")
        }
        let body = try data.withLock { data throws(NetSuiteError) in
            let id = try Self.internalId(segment, of: type, in: data)
            let lines = data.record(type, id: id)?.sublists[sublist.name] ?? []
            let url = "\(RecordPaths.record(RecordKey(type: type.name, id: id), origin: request.origin))/\(sublist.name.lowercased())"
            return data.renderLines(lines, of: sublist, url: url, origin: request.origin)
        }
        return NetSuiteResponse.json(body, contentType: NetSuiteResponse.collectionType)
    }

    /// `GET /record/v1/{type}?limit=&offset=&q=`: internal IDs, one page at a time.
    private func list(_ type: RecordType, _ request: RecordRequest) throws(NetSuiteError) -> Response {
        func number(_ name: String, default value: Int, range: ClosedRange<Int>) throws(NetSuiteError) -> Int {
            guard let text = request.query[name] else { return value }
            guard let parsed = Int(text), range.contains(parsed) else {
                // Unverified wording and code.
                throw NetSuiteError(
                    code: "INVALID_PARAMETER",
                    detail: "Invalid query parameter \(name): \(text). It must be between \(range.lowerBound) and \(range.upperBound).")
            }
            return parsed
        }
        let limit = try number("limit", default: 1000, range: 1...1000)
        let offset = try number("offset", default: 0, range: 0...Int(Int32.max))
        let filter = try request.query["q"].map { query throws(NetSuiteError) in try RecordFilter(query, type: type) }

        let ids = data.withLock { data in
            data.allRecords(of: type).filter { record in
                filter?.matches(id: record.key.id, values: data.effectiveValues(of: record, type: type)) ?? true
            }.map(\.key)
        }
        let page = ids.dropFirst(offset).prefix(limit)
        let hasMore = offset + page.count < ids.count

        func pageURL(_ pageOffset: Int) -> String {
            var parameters: [String] = []
            if let query = request.query["q"] { parameters.append("q=\(PercentCoding.encode(query))") }
            parameters += ["limit=\(limit)", "offset=\(pageOffset)"]
            return "\(request.origin)\(RecordPaths.recordService)/\(type.name.lowercased())?\(parameters.joined(separator: "&"))"
        }
        var links: [JSONValue] = []
        func link(_ relation: String, _ pageOffset: Int) { links.append(["rel": .string(relation), "href": .string(pageURL(pageOffset))]) }
        let lastOffset = ids.isEmpty ? 0 : (ids.count - 1) / limit * limit
        if offset > 0 {
            link("first", 0)
            link("prev", max(0, offset - limit))
        }
        if hasMore {
            link("next", offset + limit)
            link("last", lastOffset)
        }
        link("self", offset)

        let items = page.map { key in JSONValue.object(["links": RecordPaths.selfLink(RecordPaths.record(key, origin: request.origin)), "id": .string(String(key.id))]) }
        let body: JSONValue = [
            "links": .array(links), "count": .number(Decimal(items.count)), "hasMore": .bool(hasMore), "items": .array(items),
            "offset": .number(Decimal(offset)), "totalResults": .number(Decimal(ids.count)),
        ]
        return NetSuiteResponse.json(body, contentType: NetSuiteResponse.collectionType)
    }

    // MARK: SandboxSystem

    public func errorResponse(status: HTTPResponse.Status, message: String) -> Response {
        NetSuiteResponse.error(.forStatus(status.code, message: message))
    }

    public func concurrencyLimitResponse() -> Response {
        NetSuiteResponse.error(.concurrencyLimitExceeded)
    }

    public func isWrite(_ request: Request) -> Bool {
        [.post, .put, .patch, .delete].contains(request.method) && request.uri.path.hasPrefix(RecordPaths.recordService + "/")
    }

    /// Expires the M2M access tokens. TBA has no session, so TBA requests keep working.
    public func expireSessions() {
        clientCredentials.expireAll()
    }

    public func reset() {
        data.withLock { $0 = seededData }
        tokenAuthentication.reset()
        clientCredentials.expireAll()
        loginAudit.reset()
        ignoredProperties.withLock { $0.removeAll() }
    }

    public func recordCounts() -> [String: Int] {
        data.withLock { $0.counts() }
    }

    /// Every record of the type with its sublists expanded; links use `publicBaseURL` or localhost.
    public func records(ofType type: String) -> [JSONValue]? {
        guard let recordType = schema.recordType(named: type) else { return nil }
        let options = RenderOptions(origin: publicOrigin ?? "http://localhost", expandSubResources: true)
        return data.withLock { data in data.allRecords(of: recordType).map { data.render($0, type: recordType, options: options) } }
    }

    public func statisticsDetails() -> [String: JSONValue] {
        [
            "loginAudit": .array(loginAudit.snapshot),
            "ignoredProperties": .object(ignoredProperties.withLock { $0 }.mapValues { JSONValue.number(Decimal($0)) }),
            "concurrencyLimit": environment.concurrencyLimit.map { JSONValue.number(Decimal($0)) } ?? .null,
            "liveAccessTokens": .number(Decimal(clientCredentials.liveTokens)),
        ]
    }
}
