import Contract
import Foundation
import GRDB
import HTTPTypes
import HummingbirdTesting
import Ingest
import Kafka
import NIOCore
import TestSupport
import Testing

@Suite("Ingest turns signed Lago webhooks into billing events", .timeLimit(.minutes(3)))
struct WebhookAcceptanceTests {
    /// The customer each fixture belongs to, as Lago's serializers place it.
    static let expectedCustomer: [String: String] = [
        "credit_note.created": "cust_acme_001",
        "customer.accounting_provider_error": "cust_acme_001",
        "customer.created": "cust_acme_001",
        "customer.crm_provider_error": "cust_acme_001",
        "invoice.created": "cust_acme_001",
        "invoice.payment_status_updated": "cust_acme_001",
        "payment.succeeded": "cust_acme_001",
        "plan.created": "",
        "subscription.started": "cust_acme_001",
    ]

    @Test func everyFixtureIsCovered() {
        #expect(Set(Fixtures.lagoWebhookNames) == Set(Self.expectedCustomer.keys))
    }

    @Test(arguments: ["hmac", "jwt"])
    func signedWebhooksBecomeEventsWithKeyHeadersAndTheRawBody(algorithm: String) async throws {
        let harness = try IngestHarness()
        let names = Fixtures.lagoWebhookNames
        try await harness.run { client in
            for name in names {
                let body = try Fixtures.lago(name)
                let signature =
                    algorithm == "hmac"
                    ? LagoSigning.hmac(body, key: IngestHarness.hmacKey)
                    : try await LagoSigning.jwt(body, issuer: IngestHarness.issuer)
                let response = try await client.postWebhook(body, uniqueKey: "delivery-\(name)", headers: [
                    .contentType: "application/json",
                    HTTPField.Name("X-Lago-Signature")!: signature,
                    HTTPField.Name("X-Lago-Signature-Algorithm")!: algorithm,
                    HTTPField.Name("traceparent")!: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                ])
                #expect(response.status == .ok, "\(name): \(String(buffer: response.body))")
                let acknowledgement = try json(response)
                #expect(acknowledgement["status"] as? String == "accepted")
                #expect(acknowledgement["event_id"] as? String == "delivery-\(name)")
            }
        }

        let events = try await harness.events(count: names.count)
        #expect(events.count == names.count)
        for event in events {
            let id = try #require(event.header(MessageHeader.id))
            let name = String(id.dropFirst("delivery-".count))
            #expect(event.value == (try Fixtures.lago(name)), "\(name): the body is forwarded byte for byte")
            #expect(event.keyString == "\(IngestHarness.organizationID)/\(Self.expectedCustomer[name] ?? "?")")
            #expect(event.header(MessageHeader.type) == name)
            #expect(event.header(MessageHeader.source) == "/lago/organizations/\(IngestHarness.organizationID)")
            #expect(event.header(MessageHeader.specVersion) == "1.0")
            #expect(event.header(MessageHeader.contentType) == "application/json")
            #expect(event.header(MessageHeader.traceParent) == "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
            #expect(event.header(MessageHeader.webhookTypeStatus) == "known")
            let time = try #require(event.header(MessageHeader.time))
            #expect(time.hasSuffix("Z") && (try? Date(time, strategy: .iso8601)) != nil, "ce_time \(time)")
        }
    }

    @Test func aRedeliveredWebhookIsAcknowledgedWithoutASecondEvent() async throws {
        let harness = try IngestHarness()
        let body = try Fixtures.lago("invoice.created")
        try await harness.run { client in
            let first = try await client.postWebhook(body, uniqueKey: "same-delivery")
            let second = try await client.postWebhook(body, uniqueKey: "same-delivery")
            #expect(first.status == .ok && second.status == .ok)
            #expect(try json(first)["status"] as? String == "accepted")
            #expect(try json(second)["status"] as? String == "duplicate")
            // A different delivery of the same content is a new event (Lago sends a new key per event).
            let sentinel = try await client.postWebhook(body, uniqueKey: "next-delivery")
            #expect(try json(sentinel)["status"] as? String == "accepted")
        }
        let events = try await harness.events(count: 3, timeout: .seconds(10))
        #expect(events.compactMap { $0.header(MessageHeader.id) }.sorted() == ["next-delivery", "same-delivery"])
    }

    @Test func withoutAUniqueKeyTheBodyIdentifiesTheDelivery() async throws {
        let harness = try IngestHarness()
        let body = try Fixtures.lago("payment.succeeded")
        try await harness.run { client in
            let first = try json(try await client.postWebhook(body, uniqueKey: nil))
            let second = try json(try await client.postWebhook(body, uniqueKey: nil))
            #expect(first["status"] as? String == "accepted")
            #expect(second["status"] as? String == "duplicate")
            #expect((first["event_id"] as? String)?.hasPrefix("sha256:") == true)
        }
    }

    @Test func anUnknownWebhookTypeIsAcceptedAndMarked() async throws {
        let harness = try IngestHarness()
        let body = Array(#"{"webhook_type":"gadget.invented","object_type":"gadget","organization_id":"b7ab2926-1de8-4428-9bcd-779314ac129b","gadget":{"lago_id":"g1","external_customer_id":"cust_9"}}"#.utf8)
        try await harness.run { client in
            let response = try await client.postWebhook(body, uniqueKey: "unknown-1")
            #expect(response.status == .ok)
            #expect(try json(response)["webhook_type_known"] as? Bool == false)
        }
        let events = try await harness.events(count: 1)
        #expect(events.first?.header(MessageHeader.webhookTypeStatus) == "unknown")
        #expect(events.first?.keyString == "b7ab2926-1de8-4428-9bcd-779314ac129b/cust_9")
    }

    @Test func theOrganizationIdIsTakenFromTheBodyWhenNoneIsConfigured() async throws {
        let harness = try IngestHarness(organizationID: nil)
        try await harness.run { client in
            let response = try await client.postWebhook(try Fixtures.lago("customer.created"), organization: "acme")
            #expect(response.status == .ok)
        }
        let events = try await harness.events(count: 1)
        #expect(events.first?.keyString == "b7ab2926-1de8-4428-9bcd-779314ac129b/cust_acme_001")
    }

    @Test func operationalRoutesAnswer() async throws {
        let harness = try IngestHarness()
        try await harness.run { client in
            #expect(try await client.execute(uri: "/healthz", method: .get).status == .ok)
            #expect(try await client.execute(uri: "/readyz", method: .get).status == .ok)
            #expect(try await client.execute(uri: "/metrics", method: .get).status == .ok)
            harness.cluster.setAllBrokers(up: false)
            let notReady = try await client.execute(uri: "/readyz", method: .get)
            #expect(notReady.status == .serviceUnavailable)
            #expect(notReady.headers[.contentType] == "application/problem+json")
            harness.cluster.setAllBrokers(up: true)
        }
    }
}

@Suite("Ingest when its delivery ledger fails", .timeLimit(.minutes(2)))
struct LedgerFailureTests {
    @Test func aLedgerThatCannotBeReadGets503WithRetryAfterAndNoEvent() async throws {
        let harness = try IngestHarness()
        try await harness.run { client in
            // Break the store behind ingest's back, as a corrupted or replaced file would.
            var waitForLocks = Configuration()
            waitForLocks.busyMode = .timeout(10)
            let outside = try DatabaseQueue(path: harness.configuration.databasePath, configuration: waitForLocks)
            try await outside.write { db in try db.execute(sql: "DROP TABLE deliveries") }

            let response = try await client.postWebhook(try Fixtures.lago("customer.created"))
            #expect(response.status == .serviceUnavailable)
            #expect(response.headers[.retryAfter] == "5")
            #expect(response.headers[.contentType] == "application/problem+json")
        }
        let events = try await harness.events(count: 1, timeout: .seconds(4))
        #expect(events.isEmpty, "nothing is produced when deduplication cannot be checked")
    }
}
