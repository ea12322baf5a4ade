import Foundation
import HTTPTypes
import ServiceRuntime

/// The parts of a Lago webhook envelope ingest needs:
/// `{"webhook_type", "object_type", "organization_id", "<object_type>": {...}}`.
struct LagoEnvelope: Decodable {
    let webhookType: String
    let objectType: String
    let organizationID: String?
    /// The customer the object belongs to; nil for organization-level objects such as plans.
    let externalCustomerID: String?

    private struct Key: CodingKey {
        let stringValue: String
        init(_ string: String) { stringValue = string }
        init?(stringValue: String) { self.stringValue = stringValue }
        var intValue: Int? { nil }
        init?(intValue: Int) { nil }
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        webhookType = try container.decode(String.self, forKey: Key("webhook_type"))
        objectType = try container.decode(String.self, forKey: Key("object_type"))
        organizationID = try container.decodeIfPresent(String.self, forKey: Key("organization_id"))
        // Where Lago's serializers put the customer: `external_customer_id` (subscriptions, payments,
        // error events), `customer.external_id` (invoices, credit notes), `external_id` (customers).
        let object = try container.nestedContainer(keyedBy: Key.self, forKey: Key(objectType))
        if let id = try object.decodeIfPresent(String.self, forKey: Key("external_customer_id")) {
            externalCustomerID = id
        } else if object.contains(Key("customer")), try !object.decodeNil(forKey: Key("customer")) {
            let customer = try object.nestedContainer(keyedBy: Key.self, forKey: Key("customer"))
            externalCustomerID = try customer.decodeIfPresent(String.self, forKey: Key("external_id"))
        } else if objectType == "customer" {
            externalCustomerID = try object.decodeIfPresent(String.self, forKey: Key("external_id"))
        } else {
            externalCustomerID = nil
        }
    }

    /// Parses the raw body, or throws a 400 problem saying what is wrong.
    static func parse(_ body: [UInt8]) throws -> LagoEnvelope {
        do {
            return try JSONDecoder().decode(LagoEnvelope.self, from: Data(body))
        } catch DecodingError.dataCorrupted(let context) where context.codingPath.isEmpty {
            throw Problem(.badRequest, kind: "invalid-json", detail: "The body is not valid JSON.")
        } catch let error as DecodingError {
            throw Problem(.badRequest, kind: "not-a-lago-webhook", detail: "The body is not a Lago webhook envelope: \(Self.describe(error))")
        } catch {
            throw Problem(.badRequest, kind: "invalid-json", detail: "The body is not valid JSON.")
        }
    }

    private static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            context.codingPath.map(\.stringValue).joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, let context):
            let parent = path(context)
            return "missing \(parent.isEmpty ? "" : parent + ".")\(key.stringValue)"
        case .typeMismatch(let type, let context):
            return "\(path(context)) is not a \(type == String.self ? "string" : "\(type)")"
        case .valueNotFound(_, let context):
            return "\(path(context)) is null"
        case .dataCorrupted(let context):
            return "\(path(context)): \(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }
}
