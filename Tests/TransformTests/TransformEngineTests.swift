import Contract
import Foundation
import Kafka
import Testing

@testable import Transform

@Suite("TransformEngine: billing events to commands and results")
struct TransformEngineTests {
    let netsuiteItems = """
        {"system": "netsuite",
         "items": {"billableMetrics":{"api_calls":"2"},"defaults":{"subscription_fee":"1","coupon":"5","tax":"4"}}}
        """

    @Test("customer.created becomes one Account upsert")
    func customerCreated() async throws {
        let harness = try Harness([try connection(.salesforce)])
        let outputs = try await harness.run(billingMessage(try lagoEvent("customer.created"), id: "evt-1", type: "customer.created"))
        #expect(outputs.count == 1)
        let command = try #require(outputs.commands.first)
        #expect(command.object == "Account")
        #expect(command.system == .salesforce)
        #expect(command.connection == "salesforce")
        #expect(command.externalIDField == "Billing_Id__c")
        #expect(command.externalID == fixtureCustomerID)
        #expect(command.fields["Name"] == "Acme Corp")
        #expect(command.recordID == nil)
        #expect(command.source.eventID == "evt-1")
        #expect(command.source.billingObject == "customer")
    }

    @Test("a customer linked to an existing Account updates it by record id")
    func customerWithSalesforceID() async throws {
        let harness = try Harness([try connection(.salesforce)])
        let event = try lagoEvent("customer.created", setting: [("customer.external_salesforce_id", "001000000000001AAA")])
        let outputs = try await harness.run(billingMessage(event, id: "evt-1", type: "customer.created"))
        let command = try #require(outputs.commands.first)
        #expect(command.recordID == "001000000000001AAA")
        #expect(command.externalID == fixtureCustomerID)
    }

    @Test("the same content twice is unchanged the second time")
    func unchangedContent() async throws {
        let harness = try Harness([try connection(.salesforce)])
        let event = try lagoEvent("customer.created")
        let first = try await harness.run(billingMessage(event, id: "evt-1", type: "customer.created"))
        #expect(first.commands.count == 1)
        let second = try await harness.run(billingMessage(event, id: "evt-2", type: "customer.created", offset: 1))
        #expect(second.commands.isEmpty)
        #expect(second.count == 1)
        let result = try #require(second.results.first)
        #expect(result.outcome == .unchanged)
        #expect(result.source.eventID == "evt-2")
        #expect(result.object == "Account")
    }

    @Test("without storing the changes, the same event is planned again")
    func unstoredChangesAreForgotten() async throws {
        let harness = try Harness([try connection(.salesforce)])
        let event = try lagoEvent("customer.created")
        try await harness.run(billingMessage(event, id: "evt-1", type: "customer.created"), store: false)
        let again = try await harness.run(billingMessage(event, id: "evt-2", type: "customer.created"))
        #expect(again.commands.count == 1)
    }

    @Test("an invoice older than the applied version is skipped as stale")
    func staleInvoice() async throws {
        let harness = try Harness([try connection(.salesforce)])
        let newer = try await harness.run(billingMessage(
            try lagoEvent("invoice.payment_status_updated"), id: "evt-new", type: "invoice.payment_status_updated"))
        #expect(newer.commands.contains { $0.object == "Billing_Invoice__c" })

        let older = try await harness.run(billingMessage(
            try lagoEvent("invoice.created"), id: "evt-old", type: "invoice.created", offset: 1))
        #expect(!older.commands.contains { $0.object == "Billing_Invoice__c" })
        let stale = older.results.filter { $0.reason == "stale_version" }
        #expect(stale.count == 1)
        #expect(stale.first?.outcome == .skipped)
        #expect(stale.first?.source.billingObject == "invoice")
        #expect(stale.first?.source.billingID == fixtureInvoiceID)
    }

    @Test("a draft invoice is filtered out")
    func draftInvoice() async throws {
        let harness = try Harness([try connection(.netsuite, override: netsuiteItems)])
        let event = try lagoEvent("invoice.created", setting: [("invoice.status", "draft")])
        let outputs = try await harness.run(billingMessage(event, id: "evt-1", type: "invoice.created"))
        #expect(!outputs.commands.contains { $0.source.billingObject == "invoice" })
        let invoiceResults = outputs.results.filter { $0.source.billingObject == "invoice" }
        #expect(!invoiceResults.isEmpty)
        for result in invoiceResults {
            #expect(result.outcome == .skipped)
            #expect(result.reason?.hasPrefix("filtered") == true)
        }
    }

    @Test("a NetSuite invoice with an unmapped charge fails with invalid_mapping naming the fee")
    func missingItem() async throws {
        // Every other line has an item, so the api_calls charge is the only gap.
        let harness = try Harness([try connection(.netsuite, override: """
            {"system": "netsuite", "items": {"defaults":{"subscription_fee":"1","coupon":"5","tax":"4"}}}
            """)])
        let outputs = try await harness.run(billingMessage(try lagoEvent("invoice.created"), id: "evt-1", type: "invoice.created"))
        #expect(!outputs.commands.contains { $0.object == "invoice" })
        let failed = outputs.results.filter { $0.outcome == .failed }
        #expect(failed.count == 1)
        let result = try #require(failed.first)
        #expect(result.object == "invoice")
        #expect(result.reason == "invalid_mapping")
        #expect(result.error?.code == "invalid_mapping")
        let message = result.error?.message ?? ""
        #expect(message.contains("api_calls"), "\(message)")
        #expect(message.contains("bb22cc33-dd44-4e55-9f66-0077889900aa"), "\(message)")
    }

    @Test("a NetSuite invoice with items mapped becomes lines with items, decimal amounts and a customer reference")
    func netsuiteInvoice() async throws {
        let harness = try Harness([try connection(.netsuite, override: netsuiteItems)])
        let outputs = try await harness.run(billingMessage(try lagoEvent("invoice.created"), id: "evt-1", type: "invoice.created"))
        #expect(outputs.results.allSatisfy { $0.outcome != .failed })
        let command = try #require(outputs.commands.first { $0.object == "invoice" })
        #expect(command.externalID == fixtureInvoiceID)
        #expect(command.source.documentNumber == "ACM-7C3E-012-002")
        let lines = try #require(command.fields["item"]?["items"]?.arrayValue)
        let apiCalls = try #require(lines.first { $0["item"] == ["id": "2"] })
        #expect(apiCalls["amount"] == .number(25))
        let subscription = try #require(lines.first { $0["item"] == ["id": "1"] })
        #expect(subscription["amount"] == .number(100))
        let coupon = try #require(lines.first { $0["item"] == ["id": "5"] })
        #expect(coupon["amount"] == .number(-10))
        let tax = try #require(lines.first { $0["item"] == ["id": "4"] })
        #expect(tax["amount"] == .number(23))
        #expect(lines.count == 4)
        #expect(command.references.contains { $0.path == "entity" && $0.object == "customer" && $0.externalID == fixtureCustomerID })
        #expect(command.replaceSublists.contains("item"))
        // The customer embedded in the invoice is written first.
        let customerIndex = try #require(outputs.commands.firstIndex { $0.object == "customer" })
        let invoiceIndex = try #require(outputs.commands.firstIndex { $0.object == "invoice" })
        #expect(customerIndex < invoiceIndex)
    }

    @Test("cents become amounts by the currency's exponent", arguments: [("JPY", Decimal(1000)), ("KWD", Decimal(1)), ("USD", Decimal(10))])
    func currencyExponent(currency: String, expected: Decimal) async throws {
        let harness = try Harness([try connection(.salesforce)])
        let event = try lagoEvent("payment.succeeded", setting: [("payment.amount_cents", 1000), ("payment.amount_currency", .string(currency))])
        let outputs = try await harness.run(billingMessage(event, id: "evt-1", type: "payment.succeeded"))
        let command = try #require(outputs.commands.first { $0.object == "Billing_Payment__c" })
        #expect(command.fields["Amount__c"] == .number(expected))
    }

    /// A billing event that breaks the topic contract, and what its rejection must say.
    struct BrokenEvent: Sendable, CustomTestStringConvertible {
        let value: [UInt8]
        var headers: [KafkaHeader] = []
        let code: String
        let field: String?

        var testDescription: String { "\(code) \(field ?? "-")" }

        static let all: [BrokenEvent] = [
            BrokenEvent(value: Array("not json {".utf8), code: "invalid_json", field: nil),
            BrokenEvent(value: Array(#"{"webhook_type":"customer.created","customer":{"lago_id":"c-1"}}"#.utf8), code: "invalid_message", field: "object_type"),
            BrokenEvent(value: Array(#"{"webhook_type":42,"object_type":"customer","customer":{"lago_id":"c-1"}}"#.utf8), code: "invalid_message", field: "webhook_type"),
            BrokenEvent(value: Array(#"{"webhook_type":"customer.created","object_type":"customer","customer":[]}"#.utf8), code: "invalid_message", field: "customer"),
            BrokenEvent(value: Array(#"{"webhook_type":"customer.created","object_type":"customer","customer":{"name":"x"}}"#.utf8), code: "invalid_message", field: "customer.lago_id"),
            BrokenEvent(
                value: Array(#"{"webhook_type":"customer.created","object_type":"customer","customer":{"lago_id":"c-1"}}"#.utf8),
                headers: [KafkaHeader(name: MessageHeader.dataSchema, value: "urn:crossbill:schema:billing-event:2")],
                code: "unsupported_schema", field: MessageHeader.dataSchema),
            BrokenEvent(value: [UInt8](repeating: 32, count: MessageContract.maximumValueBytes + 1), code: "message_too_large", field: nil),
        ]
    }

    @Test("an event that breaks the topic contract is rejected with the offending field", arguments: BrokenEvent.all)
    func contractViolation(event: BrokenEvent) async throws {
        let harness = try Harness([try connection(.salesforce)])
        let outputs = try await harness.run(billingMessage(event.value, id: "evt-1", type: "customer.created", headers: event.headers))
        #expect(outputs.count == 1)
        let result = try #require(outputs.rejections.first)
        #expect(result.outcome == .failed)
        #expect(result.reason == event.code)
        #expect(result.error?.code == event.code)
        #expect(result.error?.path == event.field)
        #expect(result.source.eventID == "evt-1")
    }

    @Test("a billing event of version 1, or without a schema header, is read")
    func schemaVersionOne() async throws {
        let harness = try Harness([try connection(.salesforce)])
        let versioned = billingMessage(
            try lagoEvent("customer.created"), id: "evt-1", type: "customer.created",
            headers: [KafkaHeader(name: MessageHeader.dataSchema, value: MessageSchema.billingEvent.uri)])
        #expect(try await harness.run(versioned).commands.count == 1)
        let plain = billingMessage(try lagoEvent("customer.created", setting: [("customer.name", "Other")]), id: "evt-2", type: "customer.created")
        #expect(try await harness.run(plain).commands.count == 1)
    }

    @Test("an object type transform does not map is skipped as unsupported")
    func unsupportedObject() async throws {
        let harness = try Harness([try connection(.salesforce)])
        let event: JSONValue = [
            "webhook_type": "wallet.created", "object_type": "wallet",
            "wallet": ["lago_id": "w-1", "status": "active"],
        ]
        let outputs = try await harness.run(billingMessage(Array(event.encoded()), id: "evt-1", type: "wallet.created"))
        #expect(outputs.count == 1)
        let result = try #require(outputs.results.first)
        #expect(result.outcome == .skipped)
        #expect(result.reason == "unsupported_event")
        #expect(result.source.billingObject == "wallet")
    }
}
