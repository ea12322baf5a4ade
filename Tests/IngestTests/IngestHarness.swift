import Contract
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Ingest
import Kafka
import NIOCore
import TestSupport

/// An in-process ingest application over its own mock cluster and state directory.
struct IngestHarness {
    static let hmacKey = "org-hmac-key"
    static let issuer = "https://billing.example"
    static let organizationID = "b7ab2926-1de8-4428-9bcd-779314ac129b"

    let cluster: KafkaMockCluster
    let configuration: IngestConfiguration
    /// Where the application keeps its delivery ledger.
    private let stateDirectory: URL

    init(organizationID: String? = IngestHarness.organizationID) throws {
        cluster = try makeMockCluster(topics: [Topic.billingEvents])
        stateDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("ingest-\(UUID().uuidString)")
        configuration = IngestConfiguration(
            organizations: [
                OrganizationSettings(
                    name: "acme", id: organizationID, hmacKey: Self.hmacKey,
                    // base64 of the PEM, as Lago's public-key endpoint serves it
                    jwtPublicKeyPEM: Data(LagoSigning.jwtPublicKeyPEM.utf8).base64EncodedString(),
                    jwtIssuer: Self.issuer
                )
            ],
            maximumBodyBytes: 64 * 1024,
            produceTimeout: .seconds(2),
            databasePath: stateDirectory.appendingPathComponent("ingest.sqlite").path
        )
    }

    /// Runs the application for `test`, then removes its state: each harness runs it once.
    func run(_ test: @escaping @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        defer { try? FileManager.default.removeItem(at: stateDirectory) }
        let app = try await IngestApplication.build(
            configuration: configuration,
            kafka: KafkaClientConfiguration(bootstrapServers: cluster.bootstrapServers, statisticsInterval: .zero),
            server: ApplicationConfiguration(address: .hostname("127.0.0.1", port: 0)),
            logger: quietLogger
        )
        try await app.test(.router, test)
    }

    /// The events on billing.events, read by a fresh consumer group.
    func events(count: Int, timeout: Duration = .seconds(20)) async throws -> [KafkaMessage] {
        let consumer = try makeConsumer(bootstrapServers: cluster.bootstrapServers, topics: [Topic.billingEvents])
        let messages = await collect(count, from: consumer, timeout: timeout)
        await consumer.close()
        return messages
    }
}

extension TestClientProtocol {
    /// POSTs a webhook to ingest, signed with HMAC unless other signature headers are given.
    func postWebhook(
        _ body: [UInt8],
        organization: String = "acme",
        uniqueKey: String? = UUID().uuidString,
        headers extra: HTTPFields? = nil
    ) async throws -> TestResponse {
        var headers: HTTPFields = extra ?? [
            .contentType: "application/json",
            HTTPField.Name("X-Lago-Signature")!: LagoSigning.hmac(body, key: IngestHarness.hmacKey),
            HTTPField.Name("X-Lago-Signature-Algorithm")!: "hmac",
        ]
        if let uniqueKey { headers[HTTPField.Name("X-Lago-Unique-Key")!] = uniqueKey }
        return try await execute(
            uri: "/webhooks/lago/\(organization)", method: .post, headers: headers, body: ByteBuffer(bytes: body))
    }
}

/// The decoded JSON body of a response.
func json(_ response: TestResponse) throws -> [String: Any] {
    let object = try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView))
    return object as? [String: Any] ?? [:]
}
