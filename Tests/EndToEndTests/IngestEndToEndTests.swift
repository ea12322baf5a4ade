import Contract
import CurlHTTP
import Foundation
import HTTPTypes
import Kafka
import TestSupport
import Testing

/// The real executables: dev-broker hosting the mock cluster, ingest as its own process, webhooks over
/// real HTTP through the project's libcurl client.
@Suite("dev-broker and ingest as processes", .serialized, .timeLimit(.minutes(3)))
struct IngestEndToEndTests {
    static let hmacKey = "e2e-hmac-key"

    struct Stack {
        let broker: ServiceProcess
        let ingest: ServiceProcess
        let bootstrapServers: String
        let controlURL: String
        let ingestURL: String
    }

    private func startStack(in directory: URL) async throws -> Stack {
        let broker = try ServiceProcess(
            "dev-broker",
            arguments: ["--control-port", "0", "--partitions", "3", "--bootstrap-file", directory.appendingPathComponent("bootstrap").path]
        )
        let bootstrap = String(try await broker.waitForLine(containing: "bootstrap ").dropFirst("bootstrap ".count))
        let control = String(try await broker.waitForLine(containing: "control ").dropFirst("control ".count))
        #expect(try String(contentsOf: directory.appendingPathComponent("bootstrap"), encoding: .utf8).contains(bootstrap))

        let ingest = try ServiceProcess("ingest", environment: [
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "HTTP_PORT": "0",
            "INGEST_ORGANIZATIONS": "acme",
            "INGEST_ORGANIZATION_ACME_HMAC_KEY": Self.hmacKey,
            "INGEST_DATABASE_PATH": directory.appendingPathComponent("ingest.sqlite").path,
            "INGEST_PRODUCE_TIMEOUT_MS": "1500",
            "LOG_FORMAT": "json",
        ])
        let listening = try await ingest.waitForLine(containing: "listening on")
        let address = try #require(listening.range(of: "listening on 127.0.0.1:"))
        let port = try #require(Int(listening[address.upperBound...].prefix { $0.isNumber }))
        return Stack(broker: broker, ingest: ingest, bootstrapServers: bootstrap, controlURL: control, ingestURL: "http://127.0.0.1:\(port)")
    }

    private func post(_ client: CurlHTTPClient, _ stack: Stack, _ body: [UInt8], uniqueKey: String) async throws -> HTTPClientResponse {
        try await client.execute(HTTPClientRequest(
            method: .post,
            url: "\(stack.ingestURL)/webhooks/lago/acme",
            headers: [
                .contentType: "application/json",
                HTTPField.Name("X-Lago-Signature")!: LagoSigning.hmac(body, key: Self.hmacKey),
                HTTPField.Name("X-Lago-Signature-Algorithm")!: "hmac",
                HTTPField.Name("X-Lago-Unique-Key")!: uniqueKey,
            ],
            body: body
        ))
    }

    @Test func webhooksArriveAnOutageGets503AndIngestRecoversAndStopsCleanly() async throws {
        // Both processes end inside the scope: terminated at the end, or killed when released after a failure.
        try await withTemporaryDirectory(prefix: "e2e") { directory in
            let stack = try await startStack(in: directory)
            let client = CurlHTTPClient(logger: quietLogger)
            defer { client.shutdown() }

            let names = Fixtures.lagoWebhookNames
            for name in names {
                let response = try await post(client, stack, try Fixtures.lago(name), uniqueKey: "e2e-\(name)")
                #expect(response.status == .ok, "\(name): \(response.bodyText)")
            }

            // Outage: every broker down. Ingest must not acknowledge what it could not store.
            let outage = try await client.execute(HTTPClientRequest(method: .post, url: "\(stack.controlURL)/cluster/down"))
            #expect(outage.status == .noContent)
            let invoice = try Fixtures.lago("invoice.created")
            let refused = try await post(client, stack, invoice, uniqueKey: "during-outage")
            #expect(refused.status == .serviceUnavailable)
            #expect(refused.headers[.retryAfter] != nil)
            #expect(refused.headers[.contentType] == "application/problem+json")

            // Recovery: the sender's retry (same delivery id) is accepted.
            _ = try await client.execute(HTTPClientRequest(method: .post, url: "\(stack.controlURL)/cluster/up"))
            var retried: HTTPClientResponse?
            for _ in 0..<20 {
                retried = try await post(client, stack, invoice, uniqueKey: "during-outage")
                if retried?.status == .ok { break }
                try await Task.sleep(for: .milliseconds(500))
            }
            #expect(retried?.status == .ok)

            let consumer = try makeConsumer(bootstrapServers: stack.bootstrapServers, topics: [Topic.billingEvents])
            let events = await collect(names.count + 1, from: consumer)
            await consumer.close()
            let ids = Set(events.compactMap { $0.header(MessageHeader.id) })
            #expect(ids == Set(names.map { "e2e-\($0)" } + ["during-outage"]))

            #expect(try await stack.ingest.terminate() == 0, "ingest exits cleanly on SIGTERM")
            try await stack.broker.terminate()
        }
    }

    @Test func ingestRefusesToStartWithABadConfiguration() async throws {
        let ingest = try ServiceProcess("ingest", environment: [
            "INGEST_ORGANIZATIONS": "acme",
            "HTTP_PORT": "not-a-port",
        ])
        let complaint = try await ingest.waitForLine(containing: "invalid configuration")
        #expect(complaint.contains("ingest"))
        try await Task.sleep(for: .milliseconds(300))
        let problems = ingest.output.joined(separator: "\n")
        #expect(problems.contains("ingest.organization.acme"), "names the organization without keys")
        #expect(try await ingest.terminate() == 2)
    }
}
