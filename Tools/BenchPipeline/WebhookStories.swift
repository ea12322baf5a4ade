import Crypto
import Foundation

/// Signed Lago webhooks for many customers, made from the recorded fixtures by giving every
/// customer its own ids and numbers: each customer's story is a customer, a subscription, an invoice
/// with several fees, a payment and a credit note.
struct WebhookStories {
    static let events = ["customer.created", "subscription.started", "invoice.created", "payment.succeeded", "credit_note.created"]
    /// What one story leaves in each system, for the wait at the end.
    static let salesforceRecordsPerStory = [
        "Account": 1, "Billing_Subscription__c": 1, "Billing_Invoice__c": 1, "Billing_Payment__c": 1,
        "Billing_Credit_Note__c": 1, "Billing_Applied_Coupon__c": 1,
    ]
    static let netsuiteRecordsPerStory = ["customer": 1, "invoice": 1, "customerPayment": 1, "creditMemo": 1]

    struct Webhook: Sendable {
        let uniqueKey: String
        let body: [UInt8]
        let signature: String
    }

    /// The fixtures, cut where a story puts its own ids.
    private let templates: [(event: String, pieces: [Piece])]
    private let key: SymmetricKey
    /// Distinguishes the ids of separate runs against the same stores.
    private let run: UInt32

    /// Fixture text, or the position in `replaced` of an id a story replaces.
    private enum Piece {
        case text([UInt8])
        case replaced(Int)
    }

    /// Fixture ids replaced per story: the customer, its subscription, invoice, fees, credits,
    /// payment and credit note, and the numbers derived from them.
    private static let storyIdentifiers: [(original: String, kind: UInt32)] = [
        ("99a6094e-199b-4101-896a-54e927ce7bd7", 1), ("f5d7a2c4-8d3e-4a1b-9b7e-3c2e1d4f5a6b", 2),
        ("1e2d3c4b-5a69-4788-97a6-b5c4d3e2f1a0", 3), ("4c5d6e7f-8a9b-4c0d-8e1f-2a3b4c5d6e7f", 4),
        ("5b4a3928-1706-4f5e-8d4c-3b2a1908f7e6", 5), ("aa11bb22-cc33-4d44-8e55-ff6677889900", 6),
        ("bb22cc33-dd44-4e55-9f66-0077889900aa", 7), ("c3c2c1c0-b9b8-4a7a-86f6-e5e4d3d2c1c0", 8),
        ("e9e8e7e6-d5d4-4c3c-b2b1-a0a9f8f7e6e5", 9),
    ]
    /// Fixture codes replaced per story, in the order of `codes(index:)`.
    private static let storyCodes = ["cust_acme_001", "sub_acme_001", "ACM-7C3E-012-002", "pi_3QxYz2AbCdEfGh1"]
    private static let replaced = storyIdentifiers.map(\.original) + storyCodes

    init(fixtures: URL, hmacKey: String, run: UInt32) throws {
        templates = try Self.events.map { event in
            (event, Self.pieces(of: try String(contentsOf: fixtures.appendingPathComponent("\(event).json"), encoding: .utf8)))
        }
        key = SymmetricKey(data: Data(hmacKey.utf8))
        self.run = run
    }

    /// The webhooks of story `index`, in delivery order.
    func story(_ index: Int) -> [Webhook] {
        let replacements = (Self.storyIdentifiers.map { identifier(kind: $0.kind, index: index) } + codes(index: index)).map { Array($0.utf8) }
        return templates.map { event, pieces in
            var body: [UInt8] = []
            for piece in pieces {
                switch piece {
                case .text(let bytes): body += bytes
                case .replaced(let position): body += replacements[position]
                }
            }
            let code = HMAC<SHA256>.authenticationCode(for: body, using: key)
            return Webhook(uniqueKey: "bench-\(run)-\(index)-\(event)", body: body, signature: Data(code).base64EncodedString())
        }
    }

    /// `text` cut at every occurrence of a replaced id, once, so building a story is only copying.
    private static func pieces(of text: String) -> [Piece] {
        var pieces: [Piece] = []
        var rest = text[...]
        while let (position, range) = replaced.enumerated()
            .compactMap({ entry in rest.range(of: entry.element).map { (entry.offset, $0) } })
            .min(by: { $0.1.lowerBound < $1.1.lowerBound })
        {
            pieces.append(.text(Array(rest[..<range.lowerBound].utf8)))
            pieces.append(.replaced(position))
            rest = rest[range.upperBound...]
        }
        pieces.append(.text(Array(rest.utf8)))
        return pieces
    }

    private func codes(index: Int) -> [String] {
        ["cust_bench_\(run)_\(index)", "sub_bench_\(run)_\(index)", "BENCH-\(run)-\(index)", "pi_bench_\(run)_\(index)"]
    }

    private func identifier(kind: UInt32, index: Int) -> String {
        let hex = String(format: "%08x", run)
        return "\(hex)-\(String(format: "%04x", kind))-4000-8000-\(String(format: "%012x", index))"
    }
}
