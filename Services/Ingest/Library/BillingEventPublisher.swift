import Contract
import Foundation
import Kafka
import ServiceRuntime

/// A billing webhook on its way to `billing.events`: the raw body as the value, CloudEvents headers.
struct BillingEvent: Sendable {
    let key: MessageKey
    /// Stable across redeliveries of the same webhook.
    let id: String
    let type: String
    let typeKnown: Bool
    let source: String
    /// The sender's W3C trace context, when it sent a valid one.
    let traceParent: String?
    let body: [UInt8]
}

/// Produces billing events and waits for the brokers' acknowledgement.
struct BillingEventPublisher: Sendable {
    let producer: KafkaProducer
    let topic: String

    func publish(_ event: BillingEvent) async throws {
        let headers = EventMessages.headers(
            id: event.id, type: event.type, source: event.source, schema: .billingEvent, traceParent: TraceParent.continuing(event.traceParent)
        ) + [KafkaHeader(name: MessageHeader.webhookTypeStatus, value: event.typeKnown ? "known" : "unknown")]
        _ = try await producer.send(
            KafkaOutgoingMessage(topic: topic, key: event.key.description, value: event.body, headers: headers)
        )
    }
}

/// W3C trace context (`version-traceid-parentid-flags`): continue the sender's trace, or start one.
enum TraceParent {
    static func continuing(_ incoming: String?) -> String {
        if let incoming, isValid(incoming) { return incoming.lowercased() }
        return "00-\(randomHex(bytes: 16))-\(randomHex(bytes: 8))-01"
    }

    static func isValid(_ value: String) -> Bool {
        let parts = value.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count >= 4, parts[0].count == 2, parts[0].lowercased() != "ff",
            parts[1].count == 32, parts[2].count == 16, parts[3].count == 2
        else { return false }
        let hex = Set("0123456789abcdefABCDEF")
        guard parts.prefix(4).allSatisfy({ $0.allSatisfy(hex.contains) }) else { return false }
        // All-zero trace and parent ids are invalid.
        return parts[1].contains { $0 != "0" } && parts[2].contains { $0 != "0" }
    }

    /// Eight random bytes per draw: each draw is a system call, so one per byte cost ingest 5% of its CPU.
    private static func randomHex(bytes: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        var random: [UInt8] = []
        while random.count < bytes { withUnsafeBytes(of: generator.next()) { random += $0 } }
        return hexEncoded(random.prefix(bytes))
    }
}
