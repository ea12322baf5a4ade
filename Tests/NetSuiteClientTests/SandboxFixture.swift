import Contract
import CurlHTTP
import Foundation
import Hummingbird
import Logging
import NetSuiteClient
import NetSuiteSandbox
import SandboxCore
import TestSupport
import Testing

/// The in-process NetSuite sandbox on a free loopback port for the length of one test, clients of it,
/// and its inspection API.
struct SandboxFixture: Sendable {
    let base: String
    let http: CurlHTTPClient
    let settings: NetSuiteSettings
    /// The simulated account itself, for what the inspection API does not offer.
    let system: NetSuiteSandbox

    /// Serves a sandbox configured by `configure` and runs `body` against it; the server stops when
    /// `body` returns or throws.
    static func run(
        configure: (inout NetSuiteSettings) -> Void = { _ in },
        _ body: (SandboxFixture) async throws -> Void
    ) async throws {
        var settings = NetSuiteSettings()
        configure(&settings)
        let environment = SandboxEnvironment(
            faults: FaultInjector(settings: settings.faults, seed: 7), concurrencyLimit: settings.concurrencyLimit)
        let system = try await NetSuiteSandbox.make(settings: settings, environment: environment)
        let (ports, announce) = AsyncStream.makeStream(of: Int.self)
        let app = SandboxServer.application(
            system: system, environment: environment, host: "127.0.0.1", port: 0, logger: quietLogger,
            onRunning: { announce.yield($0) })
        let http = CurlHTTPClient(configuration: .init(requestTimeout: .seconds(10)), logger: quietLogger)
        defer { http.shutdown() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.run() }
            // The group waits for the server to stop before it returns, also when `body` throws.
            defer { group.cancelAll() }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            try await body(SandboxFixture(base: "http://127.0.0.1:\(port)", http: http, settings: settings, system: system))
        }
    }

    /// TBA with the sandbox's development credentials, or another token secret.
    func tokenBased(tokenSecret: String? = nil) -> NetSuiteConnectionSettings.Authentication {
        let credential = settings.tokenCredentials[0]
        return .tokenBased(
            consumerKey: credential.consumerKey, consumerSecret: credential.consumerSecret, tokenID: credential.tokenId,
            tokenSecret: tokenSecret ?? credential.tokenSecret)
    }

    func client(
        _ authentication: NetSuiteConnectionSettings.Authentication? = nil, accountID: String? = nil, concurrencyLimit: Int = 5
    ) -> NetSuiteClient {
        let connection = NetSuiteConnectionSettings(
            name: "sandbox", accountID: accountID ?? settings.accountId, baseURL: base,
            authentication: authentication ?? tokenBased(), concurrencyLimit: concurrencyLimit, requestTimeout: .seconds(10))
        return NetSuiteClient(settings: connection, http: http, logger: quietLogger)
    }

    // MARK: Inspection API

    func control(_ path: String) async throws -> JSONValue? {
        let response = try await http.execute(HTTPClientRequest(url: base + "/_sandbox" + path))
        try #require((200..<300).contains(response.status.code), "\(path): \(response.bodyText)")
        return JSONValue.parse(response.body)
    }

    /// Every stored record of `type`, sublists expanded.
    func records(_ type: String) async throws -> [JSONValue] {
        try await control("/records/\(type)")?.arrayValue ?? []
    }

    func record(_ type: String, id: String) async throws -> JSONValue? {
        try await records(type).first { $0["id"]?.stringValue == id }
    }

    func stats() async throws -> JSONValue {
        try await control("/stats") ?? .null
    }

    /// How many calls the sandbox counted for an operation, e.g. `oauth2.token` or `record.upsert`.
    func calls(_ operation: String) async throws -> Int {
        guard case .number(let count)? = try await stats()["callsByOperation"]?[operation] else { return 0 }
        return NSDecimalNumber(decimal: count).intValue
    }
}

/// Field sets the tests write.
enum Records {
    static func customer(_ name: String) -> [String: JSONValue] {
        ["companyName": .string(name), "subsidiary": ["id": "1"]]
    }

    /// An invoice of `customerID` with one item line per amount (service item 1, quantity 1).
    static func invoice(customerID: String, amounts: [Int], item: String = "1") -> [String: JSONValue] {
        let lines = amounts.map { amount -> JSONValue in
            ["item": ["id": .string(item)], "quantity": 1, "rate": .number(Decimal(amount)), "amount": .number(Decimal(amount))]
        }
        return ["entity": ["id": .string(customerID)], "subsidiary": ["id": "1"], "item": ["items": .array(lines)]]
    }
}

/// Writes text to a temporary file for the length of `body`.
func withTemporaryFile<T>(_ text: String, _ body: (String) async throws -> T) async throws -> T {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("netsuite-client-\(UUID().uuidString).pem").path
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try await body(path)
}
