import CurlHTTP
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import TestSupport
import Testing

/// The libcurl client against a real Hummingbird server on a loopback port.
@Suite("CurlHTTPClient", .timeLimit(.minutes(2)))
struct CurlHTTPClientTests {
    /// Runs `body` with a server on a free port and a client with `configuration`.
    private func withServer(
        configuration: CurlHTTPClientConfiguration = .init(),
        _ body: @escaping @Sendable (CurlHTTPClient, String) async throws -> Void
    ) async throws {
        let router = Router()
        router.get("/hello") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain", HTTPField.Name("X-Answer")!: "42"], body: .init(byteBuffer: ByteBuffer(string: "hello")))
        }
        router.post("/echo") { request, _ in
            var request = request
            let body = try await request.collectBody(upTo: 1 << 20)
            var headers: HTTPFields = [.contentType: "application/octet-stream"]
            headers[HTTPField.Name("X-Seen-Method")!] = request.method.rawValue
            headers[HTTPField.Name("X-Seen-Token")!] = request.headers[.authorization] ?? ""
            return Response(status: .created, headers: headers, body: .init(byteBuffer: body))
        }
        router.patch("/echo") { request, _ in
            Response(status: .ok, headers: [HTTPField.Name("X-Seen-Method")!: request.method.rawValue])
        }
        router.get("/slow") { _, _ in
            try await Task.sleep(for: .seconds(3))
            return "late"
        }
        router.get("/large") { _, _ in
            ByteBuffer(repeating: UInt8(ascii: "x"), count: 64 * 1024)
        }
        router.get("/missing") { _, _ -> Response in
            throw HTTPError(.notFound)
        }
        let (portStream, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let app = Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in portContinuation.yield(channel.localAddress!.port!) },
            logger: quietLogger
        )
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.run() }
            var ports = portStream.makeAsyncIterator()
            let port = try #require(await ports.next())
            let client = CurlHTTPClient(configuration: configuration, logger: quietLogger)
            defer { client.shutdown() }
            try await body(client, "http://127.0.0.1:\(port)")
            group.cancelAll()
        }
    }

    @Test func getReturnsStatusHeadersAndBody() async throws {
        try await withServer { client, base in
            let response = try await client.execute(HTTPClientRequest(url: "\(base)/hello"))
            #expect(response.status == .ok)
            #expect(response.headers[HTTPField.Name("X-Answer")!] == "42")
            #expect(response.bodyText == "hello")
        }
    }

    @Test func postSendsBodyAndHeaders() async throws {
        try await withServer { client, base in
            let payload = Array((0..<100_000).map { UInt8($0 % 251) })
            let response = try await client.execute(HTTPClientRequest(
                method: .post, url: "\(base)/echo", headers: [.authorization: "Bearer t0ken"], body: payload))
            #expect(response.status == .created)
            #expect(response.body == payload)
            #expect(response.headers[HTTPField.Name("X-Seen-Method")!] == "POST")
            #expect(response.headers[HTTPField.Name("X-Seen-Token")!] == "Bearer t0ken")
        }
    }

    @Test func otherMethodsAreSentAsSuch() async throws {
        try await withServer { client, base in
            let response = try await client.execute(HTTPClientRequest(method: .patch, url: "\(base)/echo", body: Array("{}".utf8)))
            #expect(response.headers[HTTPField.Name("X-Seen-Method")!] == "PATCH")
        }
    }

    @Test func errorStatusesAreResponsesNotErrors() async throws {
        try await withServer { client, base in
            let response = try await client.execute(HTTPClientRequest(url: "\(base)/missing"))
            #expect(response.status == .notFound)
        }
    }

    @Test func aSlowServerTimesOut() async throws {
        try await withServer { client, base in
            let error = await #expect(throws: CurlHTTPError.self) {
                _ = try await client.execute(HTTPClientRequest(url: "\(base)/slow", timeout: .milliseconds(300)))
            }
            #expect(error?.kind == .timeout)
            #expect(error?.isRetryable == true)
        }
    }

    @Test func aResponseOverTheLimitFails() async throws {
        try await withServer(configuration: CurlHTTPClientConfiguration(maximumResponseSize: 16 * 1024)) { client, base in
            let error = await #expect(throws: CurlHTTPError.self) {
                _ = try await client.execute(HTTPClientRequest(url: "\(base)/large"))
            }
            #expect(error?.kind == .responseTooLarge)
        }
    }

    @Test func manyConcurrentRequestsAllComplete() async throws {
        try await withServer { client, base in
            try await withThrowingTaskGroup(of: Int.self) { group in
                for index in 0..<200 {
                    group.addTask {
                        let response = try await client.execute(HTTPClientRequest(method: .post, url: "\(base)/echo", body: Array("\(index)".utf8)))
                        return Int(response.bodyText) ?? -1
                    }
                }
                var seen: Set<Int> = []
                for try await value in group { seen.insert(value) }
                #expect(seen == Set(0..<200))
            }
        }
    }

    @Test func cancellationStopsTheRequest() async throws {
        try await withServer { client, base in
            let task = Task { try await client.execute(HTTPClientRequest(url: "\(base)/slow")) }
            try await Task.sleep(for: .milliseconds(200))
            task.cancel()
            let started = ContinuousClock.now
            await #expect(throws: CancellationError.self) { _ = try await task.value }
            #expect(ContinuousClock.now - started < .seconds(2))
        }
    }

    @Test func refusedConnectionsAreRetryableConnectionErrors() async throws {
        let client = CurlHTTPClient(logger: quietLogger)
        defer { client.shutdown() }
        // Port 9 (discard) is closed on the loopback of test machines.
        let error = await #expect(throws: CurlHTTPError.self) {
            _ = try await client.execute(HTTPClientRequest(url: "http://127.0.0.1:9/"))
        }
        #expect(error?.kind == .connection)
    }

    @Test func aShutDownClientRefusesRequests() async throws {
        let client = CurlHTTPClient(logger: quietLogger)
        client.shutdown()
        let error = await #expect(throws: CurlHTTPError.self) {
            _ = try await client.execute(HTTPClientRequest(url: "http://127.0.0.1:9/"))
        }
        #expect(error?.kind == .shutdown)
    }

    /// A TLS server with a self-signed certificate: `openssl s_server`, on a free loopback port.
    private func withSelfSignedTLSServer(_ body: (String) async throws -> Void) async throws {
        try await withTemporaryDirectory(prefix: "tls") { directory in
            let key = directory.appendingPathComponent("key.pem").path
            let certificate = directory.appendingPathComponent("cert.pem").path
            let generate = try ServiceProcess.system("openssl", arguments: [
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", certificate,
                "-days", "1", "-subj", "/CN=127.0.0.1",
            ])
            #expect(try await generate.waitForExit(timeout: .seconds(30)) == 0)
            let server = try ServiceProcess.system("openssl", arguments: [
                "s_server", "-accept", "127.0.0.1:0", "-cert", certificate, "-key", key, "-www",
            ])
            let accept = try await server.waitForLine(containing: "ACCEPT 127.0.0.1:")
            do {
                try await body("https://127.0.0.1:\(accept.split(separator: ":").last!)")
            } catch {
                try await server.kill()
                throw error
            }
            try await server.kill()
        }
    }

    @Test func anUntrustedCertificateIsRefusedUnlessVerificationIsOff() async throws {
        try await withSelfSignedTLSServer { url in
            let verifying = CurlHTTPClient(logger: quietLogger)
            defer { verifying.shutdown() }
            let error = await #expect(throws: CurlHTTPError.self) {
                _ = try await verifying.execute(HTTPClientRequest(url: url))
            }
            #expect(error?.kind == .tls)

            let trusting = CurlHTTPClient(configuration: CurlHTTPClientConfiguration(verifyTLS: false), logger: quietLogger)
            defer { trusting.shutdown() }
            let response = try await trusting.execute(HTTPClientRequest(url: url))
            #expect(response.status == .ok)
        }
    }
}
