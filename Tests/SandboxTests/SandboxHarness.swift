import Contract
import CurlHTTP
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import SandboxCore
import TestSupport
import Testing

/// A simulated system served on a free loopback port for the length of a test, and raw HTTP to it.
struct SandboxHarness {
    let http: CurlHTTPClient
    let base: String

    /// Serves `system` and runs `body` against it; the server stops when `body` returns.
    static func run<System: SandboxSystem>(
        _ system: System,
        environment: SandboxEnvironment,
        _ body: @escaping @Sendable (SandboxHarness) async throws -> Void
    ) async throws {
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = SandboxServer.application(
            system: system, environment: environment, host: "127.0.0.1", port: 0, logger: quietLogger,
            onRunning: { continuation.yield($0) })
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.run() }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            let http = CurlHTTPClient(configuration: .init(requestTimeout: .seconds(10)), logger: quietLogger)
            defer { http.shutdown() }
            try await body(SandboxHarness(http: http, base: "http://127.0.0.1:\(port)"))
            group.cancelAll()
        }
    }

    struct Reply: Sendable {
        let status: Int
        let headers: HTTPFields
        let text: String
        /// The body parsed as JSON (nil when empty or not JSON).
        var json: JSONValue? { JSONValue.parse(Data(text.utf8)) }

        func header(_ name: String) -> String? { HTTPField.Name(name).flatMap { headers[$0] } }
    }

    /// Sends a request; `json` is encoded as the body, `form` as `application/x-www-form-urlencoded`.
    func send(
        _ method: HTTPRequest.Method, _ path: String, json: JSONValue? = nil, raw: String? = nil,
        form: [(String, String)]? = nil, headers: HTTPFields = [:]
    ) async throws -> Reply {
        var headers = headers
        var body: [UInt8]?
        if let json {
            body = Array(json.encoded())
            headers[.contentType] = "application/json"
        } else if let raw {
            body = Array(raw.utf8)
            headers[.contentType] = "application/json"
        } else if let form {
            let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))
            body = Array(
                form.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed) ?? $0.1)" }.joined(separator: "&").utf8)
            headers[.contentType] = "application/x-www-form-urlencoded"
        }
        let response = try await http.execute(HTTPClientRequest(method: method, url: base + path, headers: headers, body: body))
        return Reply(status: response.status.code, headers: response.headers, text: response.bodyText)
    }
}
