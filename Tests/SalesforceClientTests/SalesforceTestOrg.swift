import Contract
import CurlHTTP
import Foundation
import Hummingbird
import Logging
import SalesforceClient
import SalesforceSandbox
import SandboxCore
import TestSupport
import Testing

/// A simulated Salesforce org served on a free loopback port for the length of a test, with
/// clients of it and raw access to the sandbox's control API.
struct SalesforceTestOrg: Sendable {
    let base: String
    let http: CurlHTTPClient
    let settings: SalesforceSettings

    /// The ways the client can authenticate.
    enum GrantKind: String, CaseIterable, Sendable {
        case clientCredentials, jwtBearer, refreshToken
    }

    /// Serves an org with `settings` (its JWT bearer certificate is the test key pair's public key)
    /// and runs `body` against it; the server stops when `body` returns or throws.
    static func run(
        _ change: (inout SalesforceSettings) -> Void = { _ in },
        _ body: @escaping @Sendable (SalesforceTestOrg) async throws -> Void
    ) async throws {
        let keyFile = FileManager.default.temporaryDirectory.appendingPathComponent("sf-client-jwt-\(UUID().uuidString).pem")
        try Fixtures.text("keys/jwt-test-public.pem").write(to: keyFile, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: keyFile) }
        var settings = SalesforceSettings()
        settings.insertCommitMs = 0
        settings.jwtCertificateFile = keyFile.path
        change(&settings)

        let environment = SandboxEnvironment(faults: FaultInjector(settings: settings.faults, seed: 7), concurrencyLimit: nil)
        let system = try await SalesforceSandbox.make(settings: settings, environment: environment)
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = SandboxServer.application(
            system: system, environment: environment, host: "127.0.0.1", port: 0, logger: quietLogger,
            onRunning: { continuation.yield($0) })
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.run() }
            defer { group.cancelAll() }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            let http = CurlHTTPClient(configuration: .init(requestTimeout: .seconds(10)), logger: quietLogger)
            defer { http.shutdown() }
            try await body(SalesforceTestOrg(base: "http://127.0.0.1:\(port)", http: http, settings: settings))
        }
    }

    /// A client of this org using `grant`; `validCredentials: false` gives it credentials the org
    /// refuses (a wrong secret, a revoked refresh token, a user who has not approved the app).
    func client(_ grant: GrantKind = .clientCredentials, validCredentials: Bool = true) throws -> SalesforceClient {
        SalesforceClient(settings: try connection(grant, validCredentials: validCredentials), http: http, logger: quietLogger)
    }

    func connection(_ grant: GrantKind = .clientCredentials, validCredentials: Bool = true) throws -> SalesforceConnectionSettings {
        let connectionGrant: SalesforceConnectionSettings.Grant
        switch grant {
        case .clientCredentials:
            connectionGrant = .clientCredentials(clientID: settings.clientId, clientSecret: validCredentials ? settings.clientSecret : "wrong-secret")
        case .refreshToken:
            connectionGrant = .refreshToken(
                clientID: settings.clientId, clientSecret: settings.clientSecret,
                refreshToken: validCredentials ? settings.refreshTokens[0] : "revoked-refresh-token")
        case .jwtBearer:
            connectionGrant = .jwtBearer(
                clientID: settings.clientId, username: validCredentials ? settings.username : "someone-else@crossbill.sandbox",
                privateKeyPEM: try Fixtures.text("keys/jwt-test-private.pem"), audience: "https://login.salesforce.com")
        }
        return SalesforceConnectionSettings(name: "test", loginURL: base, grant: connectionGrant, requestTimeout: .seconds(10))
    }

    // MARK: Control API

    /// Sends a request to the sandbox's control API and returns the parsed answer.
    @discardableResult
    func control(_ method: HTTPRequest.Method, _ path: String, json: JSONValue? = nil) async throws -> JSONValue? {
        let response = try await http.execute(
            HTTPClientRequest(
                method: method, url: base + "/_sandbox/" + path, headers: json == nil ? [:] : [.contentType: "application/json"],
                body: json.map { Array($0.encoded()) }))
        #expect((200..<300).contains(response.status.code), "control \(method) \(path) answered \(response.status.code): \(response.bodyText)")
        return response.body.isEmpty ? nil : JSONValue.parse(response.body)
    }

    func setFaults(_ faults: JSONValue) async throws {
        try await control(.put, "faults", json: faults)
    }

    func expireSessions() async throws {
        try await control(.post, "sessions/expire")
    }

    /// Requests the sandbox's token endpoint handled.
    func tokenRequests() async throws -> Int {
        try await callCount("oauth2.token")
    }

    /// API calls the sandbox handled for one operation, e.g. `query` or `collections.upsert`.
    func callCount(_ operation: String) async throws -> Int {
        let stats = try await control(.get, "stats")
        return Self.int(stats?["callsByOperation"]?[operation]) ?? 0
    }

    /// Stored records of one type.
    func recordCount(_ type: String) async throws -> Int {
        Self.int(try await control(.get, "records")?[type]) ?? 0
    }

    /// Responses the sandbox sent with `status`, faults included.
    func responses(withStatus status: Int) async throws -> Int {
        let stats = try await control(.get, "stats")
        return Self.int(stats?["responsesByStatus"]?["\(status)"]) ?? 0
    }

    static func int(_ value: JSONValue?) -> Int? {
        value?.numberValue.flatMap { Int("\($0)") }
    }
}
