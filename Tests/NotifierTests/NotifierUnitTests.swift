import Contract
import Foundation
import ServiceRuntime
import Testing

@testable import Notifier

@Suite("notifier: endpoint addresses, signatures, history retention")
struct NotifierUnitTests {
    @Test(
        "private, loopback, link-local and shared addresses are recognised",
        arguments: [
            ("127.0.0.1", true), ("10.2.3.4", true), ("172.16.0.1", true), ("172.31.255.255", true), ("192.168.1.1", true),
            ("169.254.169.254", true), ("100.64.0.1", true), ("0.0.0.0", true), ("::1", true), ("fd00::1", true),
            ("fe80::1%eth0", true), ("::ffff:10.0.0.1", true), ("8.8.8.8", false), ("172.32.0.1", false),
            ("100.128.0.1", false), ("2606:4700::1111", false), ("::ffff:8.8.8.8", false),
        ])
    func privateAddresses(address: String, isPrivate: Bool) {
        #expect(EndpointAddressPolicy.isPrivate(address) == isPrivate)
    }

    @Test("endpoint URLs must be absolute http(s) URLs and not reach internal addresses")
    func endpointURLs() throws {
        let policy = EndpointAddressPolicy(allowPrivateAddresses: false)
        #expect(throws: EndpointAddressPolicy.Refusal.self) { try policy.checkedURL("ftp://example.com/hook") }
        #expect(throws: EndpointAddressPolicy.Refusal.self) { try policy.checkedURL("/hook") }
        #expect(throws: EndpointAddressPolicy.Refusal.self) { try policy.checkedURL("") }
        #expect(throws: EndpointAddressPolicy.Refusal.self) { try policy.checkedURL("http://127.0.0.1:8080/hook") }
        #expect(throws: EndpointAddressPolicy.Refusal.self) { try policy.checkedURL("https://[::1]/hook") }
        #expect(throws: EndpointAddressPolicy.Refusal.self) { try policy.checkedURL("http://169.254.169.254/latest/meta-data") }
        #expect(try policy.checkedURL("https://93.184.215.14/hook").host == "93.184.215.14")
        #expect(try EndpointAddressPolicy(allowPrivateAddresses: true).checkedURL("http://127.0.0.1:8080/hook").port == 8080)
    }

    @Test("a delivery's signature is HMAC-SHA256 over timestamp, delivery id and body")
    func signature() {
        // Computed independently: printf '1700000000.a1.b2.{"x":1}' | openssl dgst -sha256 -hmac secret
        let signature = WebhookDeliverer.signature(secret: "secret", timestamp: 1_700_000_000, deliveryID: "a1.b2", body: Array(#"{"x":1}"#.utf8))
        #expect(signature == "v1=1adcd8d896d4f2db0c62c543b058e3523bcc30438e0c92a40f255fa13b78d0d1")
        #expect(signature != WebhookDeliverer.signature(secret: "secret", timestamp: 1_700_000_001, deliveryID: "a1.b2", body: Array(#"{"x":1}"#.utf8)))
    }

    @Test("the history keeps what is newer than its retention and every pending alert")
    func retention() async throws {
        let store = try NotifierStore(database: StateDatabase.open(path: ":memory:"))
        func result(_ id: String) -> NotifierStore.IncomingResult {
            NotifierStore.IncomingResult(
                result: SyncResult(
                    outcome: .failed, commandID: id, connection: "ns", system: .netsuite, object: "invoice",
                    source: SourceDocument(eventID: id, eventType: "invoice.created", billingObject: "invoice", billingID: "inv-\(id)"),
                    attempts: 1, reason: "USER_ERROR", error: ProviderError(code: "USER_ERROR", message: "no"), reporter: "erp-writer"),
                key: MessageKey("org/cust"), rawKey: Array("org/cust".utf8), partition: 0, offset: Int64(id.count))
        }
        let old = Date(timeIntervalSinceNow: -40 * 86_400)
        try await store.record(results: [result("a")], deadLetters: [], coalesceWindow: .seconds(1), now: old)
        try await store.record(results: [result("bb")], deadLetters: [], coalesceWindow: .seconds(1), now: Date())
        try await store.prune(before: Date(timeIntervalSinceNow: -30 * 86_400))
        let kept = try await store.history(filter: HistoryFilter(), limit: 10)
        #expect(kept.map(\.commandID) == ["bb"])
        // The old result's alert was never emitted: it still goes out.
        #expect(try await store.dueAlerts(now: Date(timeIntervalSinceNow: 5)).count == 2)
    }
}
