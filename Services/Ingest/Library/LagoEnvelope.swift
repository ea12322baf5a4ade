import Contract
import Foundation
import HTTPTypes
import ServiceRuntime

/// The parts of a Lago webhook envelope ingest needs:
/// `{"webhook_type", "object_type", "organization_id", "<object_type>": {...}}`.
struct LagoEnvelope {
    let webhookType: String
    let objectType: String
    let organizationID: String?
    /// The customer the object belongs to; nil for organization-level objects such as plans.
    let externalCustomerID: String?

    /// Parses the raw body, or throws a 400 problem saying what is wrong.
    static func parse(_ body: [UInt8]) throws -> LagoEnvelope {
        // Only the envelope's members and the customer reference are built: invoices carry fees,
        // customers metadata, and building them was most of ingest's parsing time.
        let keep = { (depth: Int, key: String) in depth == 1 || (depth <= 3 && customerReferenceKeys.contains(key)) }
        guard let envelope = JSONValue.parse(body, keepingMembers: keep) else {
            throw Problem(.badRequest, kind: "invalid-json", detail: "The body is not valid JSON.")
        }
        func refuse(_ reason: String) -> Problem {
            Problem(.badRequest, kind: "not-a-lago-webhook", detail: "The body is not a Lago webhook envelope: \(reason)")
        }
        guard case .object(let members) = envelope else { throw refuse("it is not a JSON object") }
        func text(_ key: String, in object: [String: JSONValue], at path: String = "") throws -> String? {
            switch object[key] {
            case nil, .null?: return nil
            case .string(let value)?: return value
            default: throw refuse("\(path)\(key) is not a string")
            }
        }
        guard let webhookType = try text("webhook_type", in: members) else { throw refuse("missing webhook_type") }
        guard let objectType = try text("object_type", in: members) else { throw refuse("missing object_type") }
        guard let objectValue = members[objectType] else { throw refuse("missing \(objectType)") }
        guard case .object(let object) = objectValue else { throw refuse("\(objectType) is not an object") }
        // Where Lago's serializers put the customer: `external_customer_id` (subscriptions, payments,
        // error events), `customer.external_id` (invoices, credit notes), `external_id` (customers).
        var externalCustomerID = try text("external_customer_id", in: object, at: "\(objectType).")
        if externalCustomerID == nil, case .object(let customer)? = object["customer"] {
            externalCustomerID = try text("external_id", in: customer, at: "\(objectType).customer.")
        } else if externalCustomerID == nil, objectType == "customer" {
            externalCustomerID = try text("external_id", in: object, at: "\(objectType).")
        }
        return LagoEnvelope(
            webhookType: webhookType, objectType: objectType,
            organizationID: try text("organization_id", in: members), externalCustomerID: externalCustomerID)
    }

    private static let customerReferenceKeys = ["external_customer_id", "customer", "external_id"]
}
