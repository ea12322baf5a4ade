import Contract
import CurlHTTP
import Foundation
import Hummingbird
import Logging
import NetSuiteClient
import TestSupport
import Testing

/// The client against a minimal stand-in for NetSuite, for answers the sandbox never gives.
@Suite("NetSuite client against a stub server", .timeLimit(.minutes(1)))
struct StubServerTests {
    /// What the stub saw: one line per request, `METHOD uri headers`.
    actor RequestLog {
        var lines: [String] = []
        func add(_ line: String) { lines.append(line) }
    }

    /// Serves `router` on a free loopback port while `body` runs.
    static func serve(_ router: Router<BasicRequestContext>, _ body: (String, CurlHTTPClient) async throws -> Void) async throws {
        let (ports, announce) = AsyncStream.makeStream(of: Int.self)
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { announce.yield($0.localAddress?.port ?? 0) }, logger: quietLogger)
        let http = CurlHTTPClient(configuration: .init(requestTimeout: .seconds(10)), logger: quietLogger)
        defer { http.shutdown() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.run() }
            defer { group.cancelAll() }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            try await body("http://127.0.0.1:\(port)", http)
        }
    }

    @Test func anUpsertAnsweredWithoutLocationReadsTheInternalID() async throws {
        let log = RequestLog()
        let router = Router()
        router.put("**") { request, _ -> String in
            await log.add("PUT \(request.uri) \(request.headers)")
            return ""
        }
        router.get("**") { request, _ -> String in
            await log.add("GET \(request.uri) \(request.headers)")
            return #"{"links":[],"id":"77"}"#
        }
        try await Self.serve(router) { base, http throws in
            let settings = NetSuiteConnectionSettings(
                name: "stub", accountID: "123456_SB1", baseURL: base + "/",
                authentication: .tokenBased(consumerKey: "ck", consumerSecret: "cs-secret", tokenID: "tid", tokenSecret: "ts-secret"))
            let client = NetSuiteClient(settings: settings, http: http, logger: quietLogger)
            let id = try await client.upsert(
                recordType: "invoice", externalID: "inv-1", fields: ["memo": "x"], replaceSublists: ["item", "apply"])
            #expect(id == "77")

            let lines = await log.lines
            try #require(lines.count == 2)
            #expect(lines[0].hasPrefix("PUT /services/rest/record/v1/invoice/eid:inv-1?replace=item,apply "))
            #expect(lines[1].hasPrefix("GET /services/rest/record/v1/invoice/eid:inv-1?fields=id "))
            #expect(lines[0].contains("OAuth realm=\"123456_SB1\""))
            #expect(lines[0].contains("application/json"))
            for line in lines {
                #expect(!line.lowercased().contains("idempotency"))
                #expect(!line.contains("secret"))
            }
        }
    }
}
