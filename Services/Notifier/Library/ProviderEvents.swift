import Contract
import Foundation

/// The event types the notifier emits, as Lago names them.
public enum ProviderEventType {
    public static let accountingError = "customer.accounting_provider_error"
    public static let crmError = "customer.crm_provider_error"
    public static let accountingCreated = "customer.accounting_provider_created"
    public static let crmCreated = "customer.crm_provider_created"

    static func error(for system: TargetSystem) -> String { system == .netsuite ? accountingError : crmError }
    static func created(for system: TargetSystem) -> String { system == .netsuite ? accountingCreated : crmCreated }
}

/// What an alert says about a failed document: the latest failure, and how many it stands for.
struct FailureSummary: Sendable, Codable, Hashable {
    let system: TargetSystem
    let connection: String
    let organizationID: String
    let externalCustomerID: String
    let customerID: String
    let documentType: String
    let billingID: String
    let documentNumber: String?
    let targetObject: String?
    let error: ProviderError
    let attempts: Int
    var occurrences: Int
    let firstFailedAt: String
    var lastFailedAt: String
}

/// The values of `alerts.provider-errors` (docs/schemas/provider-*-event.v1.schema.json): Lago's shape,
/// with the document, the provider's error path or fields, attempts, occurrences and a dashboard link.
/// CRM errors use `crm_provider` names where Lago reuses the accounting ones.
enum ProviderEvents {
    static func error(_ failure: FailureSummary, dashboardURL: String) -> JSONValue {
        let crm = failure.system == .salesforce
        var providerError: [String: JSONValue] = [
            "message": .string(failure.error.message), "error_code": .string(failure.error.code),
        ]
        if let path = failure.error.path { providerError["path"] = .string(path) }
        if !failure.error.fields.isEmpty { providerError["fields"] = .array(failure.error.fields.map(JSONValue.string)) }
        let document: [String: JSONValue] = [
            "type": .string(failure.documentType), "billing_id": .string(failure.billingID),
            "number": failure.documentNumber.map(JSONValue.string) ?? .null,
            "target_object": failure.targetObject.map(JSONValue.string) ?? .null,
        ]
        let details: JSONValue = .object([
            "lago_customer_id": .string(failure.customerID),
            "external_customer_id": .string(failure.externalCustomerID),
            crm ? "crm_provider" : "accounting_provider": .string(failure.system.rawValue),
            crm ? "crm_provider_code" : "accounting_provider_code": .string(failure.connection),
            "provider_error": .object(providerError),
            "document": .object(document),
            "attempts": .number(Decimal(failure.attempts)),
            "occurrences": .number(Decimal(failure.occurrences)),
            "first_failed_at": .string(failure.firstFailedAt),
            "last_failed_at": .string(failure.lastFailedAt),
            "dashboard_url": .string(dashboardURL),
        ])
        let objectType = crm ? "crm_provider_customer_error" : "accounting_provider_customer_error"
        return .object([
            "webhook_type": .string(ProviderEventType.error(for: failure.system)),
            "object_type": .string(objectType),
            "organization_id": .string(failure.organizationID),
            objectType: details,
        ])
    }

    static func created(
        system: TargetSystem, connection: String, organizationID: String, customerID: String, externalCustomerID: String, targetID: String
    ) -> JSONValue {
        [
            "webhook_type": .string(ProviderEventType.created(for: system)),
            "object_type": "customer",
            "organization_id": .string(organizationID),
            "customer": [
                "lago_id": .string(customerID),
                "external_id": .string(externalCustomerID),
                "integration_customers": [[
                    "type": .string(system.rawValue), "integration_code": .string(connection),
                    "external_customer_id": .string(targetID),
                ]],
            ],
        ]
    }
}
