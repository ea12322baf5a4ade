import Contract
import Crypto
import Foundation
import Hummingbird
import Kafka
import ServiceRuntime

/// Who may read the dashboard and its API: a request with the configured token as a bearer token, or
/// with the session cookie the login form sets. Nothing is readable anonymously.
struct DashboardAccess: Sendable {
    static let cookieName = "crossbill_dashboard"
    let token: String

    /// The session cookie's value: derived from the token, so the cookie never carries the token itself.
    var sessionValue: String {
        let code = HMAC<SHA256>.authenticationCode(for: Data("crossbill dashboard session".utf8), using: SymmetricKey(data: Data(token.utf8)))
        return code.map { String(format: "%02x", $0) }.joined()
    }

    func allows(_ request: Request) -> Bool {
        if let authorization = request.headers[.authorization], authorization.hasPrefix("Bearer ") {
            return Self.equal(String(authorization.dropFirst("Bearer ".count)), token)
        }
        if let cookie = request.cookies[Self.cookieName]?.value { return Self.equal(cookie, sessionValue) }
        return false
    }

    /// Compares in time that does not depend on where the strings differ.
    static func equal(_ first: String, _ second: String) -> Bool {
        let a = Array(first.utf8), b = Array(second.utf8)
        guard a.count == b.count else { return false }
        return zip(a, b).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }
}

struct DashboardAccessMiddleware<Context: RequestContext>: RouterMiddleware {
    let access: DashboardAccess

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard access.allows(request) else {
            if request.uri.path.hasPrefix("/api/") {
                throw Problem(.unauthorized, kind: "unauthorized", detail: "send the dashboard token as a bearer token",
                              headers: [.wwwAuthenticate: "Bearer"])
            }
            return DashboardPages.html(DashboardPages.login(message: nil), status: .unauthorized)
        }
        return try await next(request, context)
    }
}

/// The sync history, open failures, connection health and delivery log: as JSON under `/api/v1`
/// and as server-rendered pages under `/dashboard`, with a retry that replays a failed command.
struct Dashboard: Sendable {
    let store: NotifierStore
    let producer: KafkaProducer
    let access: DashboardAccess

    func addRoutes(to router: Router<BasicRequestContext>) {
        router.get("/") { _, _ in Response(status: .seeOther, headers: [.location: "/dashboard"]) }
        router.post("/login") { request, _ in try await login(request) }
        router.post("/logout") { _, _ in
            var response = Response(status: .seeOther, headers: [.location: "/dashboard"])
            response.setCookie(Cookie(name: DashboardAccess.cookieName, value: "", maxAge: 0, path: "/", httpOnly: true, sameSite: .strict))
            return response
        }

        let api = router.group("api/v1").add(middleware: DashboardAccessMiddleware(access: access))
        api.get("summary") { request, _ in
            let since = Date().addingTimeInterval(-Double(request.uri.queryParameters.get("hours", as: Int.self) ?? 24) * 3600)
            let counts = try await store.outcomeCounts(since: since, filter: Self.filter(request))
            return Self.json(.array(counts.map { count in
                ["connection": .string(count.connection), "object": .string(count.object), "outcome": .string(count.outcome),
                 "count": .number(Decimal(count.count))]
            }))
        }
        api.get("results") { request, _ in
            Self.json(.array(try await store.history(filter: Self.filter(request), limit: Self.limit(request)).map(\.json)))
        }
        api.get("failures") { request, _ in
            Self.json(.array(try await store.openFailures(filter: Self.filter(request), limit: Self.limit(request)).map(\.json)))
        }
        api.get("connections") { _, _ in Self.json(.array(try await store.health().map(\.json))) }
        api.get("deliveries") { request, _ in Self.json(.array(try await store.deliveries(limit: Self.limit(request)))) }
        api.post("failures/:id/retry") { _, context in
            let id = try Self.failureID(context)
            let replayed = try await replay(failure: id)
            return Self.json(["replayed": true, "topic": .string(replayed)], status: .accepted)
        }

        let pages = router.group("dashboard").add(middleware: DashboardAccessMiddleware(access: access))
        pages.get { request, _ in
            let filter = Self.filter(request)
            async let health = store.health()
            async let counts = store.outcomeCounts(since: Date().addingTimeInterval(-86_400), filter: filter)
            async let failures = store.openFailures(filter: filter, limit: 100)
            async let results = store.history(filter: filter, limit: 100)
            async let deliveries = store.deliveries(limit: 50)
            return DashboardPages.html(DashboardPages.overview(
                filter: filter, health: try await health, counts: try await counts, failures: try await failures,
                results: try await results, deliveries: try await deliveries))
        }
        pages.get("failures/:id") { request, context in
            let id = try Self.failureID(context)
            guard let entry = try await store.entry(id: id) else {
                throw Problem(.notFound, kind: "unknown-failure", detail: "there is no result \(id)")
            }
            let replayable = try await store.deadLetter(forResult: id)?.letter != nil
            return DashboardPages.html(DashboardPages.failure(
                entry, replayable: replayable, replays: try await store.replays(ofResult: id),
                notice: request.uri.queryParameters.get("replayed").map { "Replayed to \($0)." }))
        }
        pages.post("failures/:id/retry") { _, context in
            let id = try Self.failureID(context)
            let topic = try await replay(failure: id)
            return Response(status: .seeOther, headers: [.location: "/dashboard/failures/\(id)?replayed=\(topic)"])
        }
    }

    /// Sends the failed command (or event) kept on its dead-letter queue back to the topic it failed on,
    /// with its own key and headers; the consumer there tries it again. Returns that topic.
    private func replay(failure id: Int64) async throws -> String {
        guard let found = try await store.deadLetter(forResult: id) else {
            throw Problem(.notFound, kind: "unknown-failure", detail: "there is no result \(id)")
        }
        guard found.outcome == "failed" else {
            throw Problem(.conflict, kind: "not-a-failure", detail: "result \(id) did not fail")
        }
        guard let letter = found.letter else {
            throw Problem(.conflict, kind: "nothing-to-replay",
                          detail: "no dead letter is kept for result \(id); only failures that went to a dead-letter queue can be replayed")
        }
        _ = try await producer.send(letter)
        try await store.recordReplay(ofResult: id)
        return letter.topic
    }

    private func login(_ request: Request) async throws -> Response {
        var request = request
        let body = try await request.collectBody(upTo: 16 * 1024)
        let form = Self.formFields(String(buffer: body))
        guard let token = form["token"], DashboardAccess.equal(token, access.token) else {
            return DashboardPages.html(DashboardPages.login(message: "That token is not valid."), status: .unauthorized)
        }
        var response = Response(status: .seeOther, headers: [.location: "/dashboard"])
        response.setCookie(Cookie(name: DashboardAccess.cookieName, value: access.sessionValue, path: "/", httpOnly: true, sameSite: .strict))
        return response
    }

    static func formFields(_ body: String) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in body.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? "" }
            if let name = parts.first { fields[name] = parts.count > 1 ? parts[1] : "" }
        }
        return fields
    }

    static func filter(_ request: Request) -> HistoryFilter {
        let query = request.uri.queryParameters
        return HistoryFilter(
            connection: query.get("connection"), object: query.get("object"), outcome: query.get("outcome"), customer: query.get("customer"))
    }

    static func limit(_ request: Request) -> Int { min(max(request.uri.queryParameters.get("limit", as: Int.self) ?? 100, 1), 1000) }

    static func failureID(_ context: BasicRequestContext) throws -> Int64 {
        guard let id = context.parameters.get("id", as: Int64.self) else {
            throw Problem(.badRequest, kind: "invalid-failure-id", detail: "a failure id is a whole number")
        }
        return id
    }

    static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: value.encoded())))
    }
}
