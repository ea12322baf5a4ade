import Contract
import Foundation

/// A billing object found in an event, ready for the mappings.
struct BillingObject: Sendable {
    /// `customer`, `invoice`, … (the mappings' `source`).
    let kind: String
    let billingID: String
    /// The object as Lago serialised it, plus a `crossbill` member with derived keys.
    let body: JSONValue
    /// The event's own object; the others are parents it embeds (the invoice's customer) or objects
    /// it implies (the coupons of its credits), written first so children find their parents.
    let primary: Bool
    /// Orders versions of one object; empty when the payload carries nothing to order by.
    let version: EntityVersion

    /// The billing id of the customer the object belongs to.
    var customerID: String? {
        if kind == "customer" { return billingID }
        return body["lago_customer_id"]?.stringValue ?? body["customer"]?["lago_id"]?.stringValue
    }
}

/// A comparable version: ranks and timestamps compared in order. Two versions where one is empty
/// never count as stale.
struct EntityVersion: Sendable, Hashable, Codable {
    let parts: [Double]

    func isOlder(than other: EntityVersion) -> Bool {
        guard !parts.isEmpty, !other.parts.isEmpty else { return false }
        return parts.lexicographicallyPrecedes(other.parts)
    }
}

/// A billing event that cannot be used: the offending field and the reason.
struct InvalidEvent: Error {
    let field: String?
    let reason: String
}

/// Reads the billing objects out of a Lago webhook.
enum BillingObjects {
    /// The object types transform maps; other events get a `skipped` result.
    static let supportedKinds: Set<String> = MappingLoader.billingObjects

    /// The objects of an envelope, parents first and the event's own object last but for the objects it
    /// implies (applied coupons). Nil when the event's object type is not one transform maps.
    static func read(_ envelope: JSONValue) throws(InvalidEvent) -> [BillingObject]? {
        guard case .object = envelope else { throw InvalidEvent(field: nil, reason: "the event is not a JSON object") }
        for field in ["webhook_type", "object_type"] {
            guard let value = envelope[field] else { throw InvalidEvent(field: field, reason: "the required field \(field) is missing") }
            guard value.stringValue?.isEmpty == false else { throw InvalidEvent(field: field, reason: "\(field) is not a non-empty string") }
        }
        let kind = envelope["object_type"]?.stringValue ?? ""
        guard supportedKinds.contains(kind) else { return nil }
        guard let body = envelope[kind], case .object = body else {
            throw InvalidEvent(field: kind, reason: "a \(kind) event needs the \(kind) object")
        }
        var objects: [BillingObject] = []
        for (parentKind, path) in [("customer", "customer"), ("plan", "plan")] {
            if let parent = body[path], case .object = parent, kind != parentKind {
                objects += try make(parentKind, parent, primary: false)
            }
        }
        if kind == "invoice" {
            objects += try impliedCatalog(of: body)
        }
        objects += try make(kind, body, primary: true)
        if kind == "invoice" {
            objects += try impliedAppliedCoupons(of: body)
        }
        return objects
    }

    private static func make(_ kind: String, _ body: JSONValue, primary: Bool) throws(InvalidEvent) -> [BillingObject] {
        guard case .object(var members) = body else { return [] }
        guard let id = kind == "applied_coupon" ? appliedCouponID(body) : members["lago_id"]?.stringValue, !id.isEmpty else {
            if primary {
                let field = kind != "applied_coupon" ? "lago_id" : body["lago_customer_id"]?.stringValue == nil ? "lago_customer_id" : "lago_coupon_id"
                throw InvalidEvent(field: "\(kind).\(field)", reason: "the \(kind) has no \(field)")
            }
            return []
        }
        var derived = members["crossbill"]?.objectValue ?? [:]
        derived.merge(derivedKeys(kind, body, id: id)) { _, new in new }
        members["crossbill"] = .object(derived)
        return [BillingObject(kind: kind, billingID: id, body: .object(members), primary: primary, version: version(kind, body))]
    }

    /// Keys the default mappings need that Lago does not send as such.
    private static func derivedKeys(_ kind: String, _ body: JSONValue, id: String) -> [String: JSONValue] {
        func text(_ key: String) -> String { body[key]?.stringValue ?? "" }
        func cents(_ key: String) -> Decimal { body[key].flatMap { Decimal(json: $0) } ?? 0 }
        switch kind {
        case "plan", "add_on":
            return ["price_id": .string("\(id)-\(text("amount_currency"))")]
        case "applied_coupon":
            return ["id": .string(id)]
        case "invoice":
            var keys: [String: JSONValue] = ["void_id": .string("void-\(id)")]
            // Some invoice webhooks (payment status updates) carry no `subscriptions`; their fees still
            // name the subscription they bill.
            let subscriptionIDs = Set(
                body["subscriptions"]?.arrayValue?.compactMap { $0["lago_id"]?.stringValue }
                    ?? body["fees"]?.arrayValue?.compactMap { $0["lago_subscription_id"]?.stringValue } ?? [])
            if subscriptionIDs.count == 1, let subscription = subscriptionIDs.first {
                keys["subscription_id"] = .string(subscription)
            }
            let number = text("number")
            keys["memo"] = text("status") == "voided"
                ? .string("Voided in billing on \(text("voided_at").prefix(10)): invoice \(number)")
                : .string("Billing invoice \(number)")
            // What the NetSuite invoice's lines add up to: fees less discounts and credits, plus taxes.
            let net = cents("fees_amount_cents") - cents("coupons_amount_cents") - cents("prepaid_credit_amount_cents")
                - cents("credit_notes_amount_cents") - cents("progressive_billing_credit_amount_cents") + cents("taxes_amount_cents")
            keys["net_amount_cents"] = .number(net)
            return keys
        default:
            return [:]
        }
    }

    /// Add-ons billed on the invoice's fees and coupons used by its credits: Lago sends no webhooks
    /// for them, so the invoice is where they first appear.
    private static func impliedCatalog(of invoice: JSONValue) throws(InvalidEvent) -> [BillingObject] {
        var objects: [BillingObject] = []
        for fee in invoice["fees"]?.arrayValue ?? [] where fee["item"]?["type"]?.stringValue == "add_on" {
            guard let item = fee["item"], let id = item["lago_item_id"] else { continue }
            let addOn: JSONValue = [
                "lago_id": id, "code": item["code"] ?? .null, "name": item["name"] ?? .null,
                "invoice_display_name": item["invoice_display_name"] ?? .null, "description": item["description"] ?? .null,
            ]
            objects += try make("add_on", addOn, primary: false)
        }
        for credit in couponCredits(of: invoice) {
            guard let item = credit["item"], let id = item["lago_item_id"] else { continue }
            let coupon: JSONValue = [
                "lago_id": id, "code": item["code"] ?? .null, "name": item["name"] ?? .null,
                "description": item["description"] ?? .null,
            ]
            objects += try make("coupon", coupon, primary: false)
        }
        return objects
    }

    /// One applied coupon per coupon credit, keyed by customer and coupon: the same key an applied
    /// coupon read from the billing API gets, so both land on one record.
    private static func impliedAppliedCoupons(of invoice: JSONValue) throws(InvalidEvent) -> [BillingObject] {
        guard let customer = invoice["customer"], let customerID = customer["lago_id"]?.stringValue else { return [] }
        var objects: [BillingObject] = []
        for credit in couponCredits(of: invoice) {
            guard let item = credit["item"], let couponID = item["lago_item_id"]?.stringValue else { continue }
            let applied: JSONValue = [
                "lago_coupon_id": .string(couponID), "coupon_code": item["code"] ?? .null, "coupon_name": item["name"] ?? .null,
                "lago_customer_id": .string(customerID), "external_customer_id": customer["external_id"] ?? .null,
                "status": "active",
            ]
            objects += try make("applied_coupon", applied, primary: false)
        }
        return objects
    }

    /// Customer and coupon: Lago's invoice credits do not carry the applied coupon's own id.
    private static func appliedCouponID(_ body: JSONValue) -> String? {
        guard let customer = body["lago_customer_id"]?.stringValue, let coupon = body["lago_coupon_id"]?.stringValue else { return nil }
        return "\(customer)-\(coupon)"
    }

    private static func couponCredits(of invoice: JSONValue) -> [JSONValue] {
        (invoice["credits"]?.arrayValue ?? []).filter { $0["item"]?["type"]?.stringValue == "coupon" }
    }

    /// What orders two payloads of one object (DESIGN.md §3.4). Lago's `updated_at` where it has one,
    /// else lifecycle ranks: a terminated subscription or a succeeded payment never goes back.
    static func version(_ kind: String, _ body: JSONValue) -> EntityVersion {
        func time(_ key: String) -> Double { body[key]?.stringValue.flatMap(ISODate.seconds(of:)) ?? 0 }
        func rank(_ key: String, _ order: [String: Double]) -> Double { body[key]?.stringValue.flatMap { order[$0] } ?? 0 }
        switch kind {
        case "customer":
            return EntityVersion(parts: [time("updated_at")])
        case "subscription":
            let status = rank("status", ["pending": 0, "active": 1, "terminated": 2, "canceled": 2])
            return EntityVersion(parts: [status, ["terminated_at", "canceled_at", "started_at", "created_at"].map(time).max() ?? 0])
        case "plan":
            return EntityVersion(parts: [body["pending_deletion"]?.boolValue == true ? 1 : 0])
        case "invoice":
            return EntityVersion(parts: [
                time("updated_at"),
                rank("status", ["draft": 0, "pending": 0, "failed": 1, "finalized": 1, "voided": 2]),
                rank("payment_status", ["pending": 0, "failed": 1, "succeeded": 2]),
            ])
        case "credit_note":
            return EntityVersion(parts: [
                time("updated_at"),
                rank("credit_status", ["available": 0, "consumed": 1, "voided": 2]),
                rank("refund_status", ["pending": 1, "failed": 2, "succeeded": 2]),
            ])
        case "payment":
            return EntityVersion(parts: [
                rank("payment_status", ["pending": 0, "processing": 1, "requires_action": 1, "failed": 2, "succeeded": 2]),
                time("created_at"),
            ])
        case "coupon":
            return EntityVersion(parts: [body["terminated_at"]?.isNull == false ? 1 : 0])
        case "applied_coupon":
            return EntityVersion(parts: [rank("status", ["active": 0, "terminated": 1])])
        default:
            return EntityVersion(parts: [])
        }
    }
}
