import Contract
import CurlHTTP
import Foundation
import HTTPTypes
import Kafka
import TestSupport
import Testing

/// The whole billing → Salesforce and NetSuite path as real processes: dev-broker, sandbox, ingest,
/// transform, crm-writer and erp-writer, fed signed webhooks over HTTP.
@Suite("billing to Salesforce and NetSuite, end to end", .serialized, .timeLimit(.minutes(5)))
struct SyncEndToEndTests {

    /// The story: customer, plan, subscription, invoice, payment, credit note, and a second invoice
    /// that is voided.
    static func story() throws -> [(name: String, body: [UInt8])] {
        var voided = try #require(JSONValue.parse(Data(try Fixtures.lago("invoice.created"))))
        voided = voided.setting("invoice.voided", at: "webhook_type")
            .setting("2f3e4d5c-6b7a-4899-a8b7-c6d5e4f3a2b1", at: "invoice.lago_id")
            .setting("ACM-7C3E-012-003", at: "invoice.number")
            .setting("voided", at: "invoice.status")
            .setting("2025-04-05T10:00:00Z", at: "invoice.voided_at")
            .setting("2025-04-05T10:00:00Z", at: "invoice.updated_at")
        return try ["customer.created", "plan.created", "subscription.started", "invoice.created", "payment.succeeded", "credit_note.created"]
            .map { ($0, try Fixtures.lago($0)) } + [("invoice.voided", Array(voided.encoded()))]
    }

    static let salesforceTypes = [
        "Account", "Product2", "PricebookEntry", "Billing_Subscription__c", "Billing_Invoice__c", "Billing_Payment__c",
        "Billing_Credit_Note__c", "Billing_Coupon__c", "Billing_Applied_Coupon__c",
    ]
    static let netsuiteTypes = ["customer", "invoice", "salesOrder", "creditMemo", "customerPayment"]

    /// The story followed by the invoice's payment status update, in order.
    static func storyWithUpdate() throws -> [(name: String, body: [UInt8])] {
        try story() + [("invoice.payment_status_updated", try Fixtures.lago("invoice.payment_status_updated"))]
    }

    /// What the story with its update leaves in both systems when delivered in order on a fault-free
    /// stack; computed once, by whichever test needs it first.
    private static let reference = ReferenceSnapshot()

    actor ReferenceSnapshot {
        private var snapshot: [String: [String]]?

        func value(_ make: () async throws -> [String: [String]]) async throws -> [String: [String]] {
            if let snapshot { return snapshot }
            let made = try await make()
            snapshot = made
            return made
        }
    }

    private func referenceSnapshot() async throws -> [String: [String]] {
        try await Self.reference.value {
            var result: [String: [String]] = [:]
            try await withSyncStack { stack in
                for (name, body) in try Self.storyWithUpdate() {
                    #expect(try await stack.post(body, uniqueKey: "reference-\(name)").status == .ok)
                }
                // Every record is there and the payment status update is applied.
                _ = try await stack.waitForRecords("netsuite", "customerPayment", count: 1)
                _ = try await stack.waitForRecords("netsuite", "creditMemo", count: 2)
                let deadline = ContinuousClock.now + .seconds(30)
                while ContinuousClock.now < deadline {
                    let invoices = try await stack.records("salesforce", "Billing_Invoice__c")
                    if invoices.contains(where: { $0["Payment_Status__c"] == "succeeded" }) { break }
                    try await Task.sleep(for: .milliseconds(200))
                }
                // Let the last writes settle: the snapshot must not change any more.
                var previous = try await stack.snapshot()
                while true {
                    try await Task.sleep(for: .seconds(1))
                    let current = try await stack.snapshot()
                    if current == previous { break }
                    previous = current
                }
                result = previous
            }
            #expect(result["salesforce/Account"]?.count == 1)
            #expect(result["netsuite/invoice"]?.count == 2)
            return result
        }
    }

    /// Lists what differs between two snapshots, for a readable failure.
    private func differences(_ actual: [String: [String]], _ expected: [String: [String]]) -> String {
        Set(actual.keys).union(expected.keys).sorted().compactMap { key in
            let have = actual[key] ?? [], want = expected[key] ?? []
            guard have != want else { return nil }
            return "\(key): expected \(want.count), found \(have.count)\n  missing: \(want.filter { !have.contains($0) })\n  unexpected: \(have.filter { !want.contains($0) })"
        }.joined(separator: "\n")
    }

    @Test func eventsForOneCustomerDeliveredOutOfOrderConverge() async throws {
        let expected = try await referenceSnapshot()
        try await withSyncStack { stack in
            // Children before parents, the payment status update before the invoice it updates, the
            // customer last.
            let order = ["invoice.voided", "credit_note.created", "payment.succeeded", "invoice.payment_status_updated",
                         "invoice.created", "subscription.started", "plan.created", "customer.created"]
            let story = Dictionary(uniqueKeysWithValues: try Self.storyWithUpdate().map { ($0.name, $0.body) })
            for name in order {
                let body = try #require(story[name])
                #expect(try await stack.post(body, uniqueKey: "shuffled-\(name)").status == .ok)
            }
            let converged = try await stack.waitForSnapshot(expected)
            #expect(converged == expected, "\(differences(converged, expected))")
        }
    }

    @Test func writesCommittedThenAnsweredWithAnErrorCreateNoDuplicates() async throws {
        let expected = try await referenceSnapshot()
        // Enough attempts that a command never runs out of them at these fault rates.
        try await withSyncStack(writerSettings: ["CRM_MAX_ATTEMPTS": "15", "ERP_MAX_ATTEMPTS": "15"]) { stack in
            // Salesforce answers a committed write with a 500, NetSuite closes the connection instead.
            try await stack.setFaults("salesforce", #"{"commitThenFailRate": 0.3, "commitThenFailMode": "error"}"#)
            try await stack.setFaults("netsuite", #"{"commitThenFailRate": 0.3, "commitThenFailMode": "drop"}"#)
            for (name, body) in try Self.storyWithUpdate() {
                #expect(try await stack.post(body, uniqueKey: "faulty-\(name)").status == .ok)
            }
            let converged = try await stack.waitForSnapshot(expected)
            #expect(converged == expected, "\(differences(converged, expected))")
            for system in ["salesforce", "netsuite"] {
                let injected = try await stack.statistics(system)["faultsInjected"]?["commitThenFail"]?.numberValue ?? 0
                #expect(injected > 0, "the sandbox injected no commit-then-fail fault into \(system)")
            }
        }
    }

    @Test func aSignedStoryEndsAsTheExpectedRecordsAndReplaysCreateNothing() async throws {
        try await withSyncStack { stack in
            for (name, body) in try Self.story() {
                let response = try await stack.post(body, uniqueKey: "story-\(name)")
                #expect(response.status == .ok, "\(name): \(response.bodyText)")
            }

            // Salesforce: every object once, with its fields and lookups.
            let accounts = try await stack.waitForRecords("salesforce", "Account", count: 1)
            #expect(accounts.count == 1)
            let account = try #require(accounts.first)
            #expect(account["Name"] == "Acme Corp")
            #expect(account["Billing_Id__c"] == "99a6094e-199b-4101-896a-54e927ce7bd7")
            #expect(account["BillingCity"] == "Woodland Hills")
            let invoices = try await stack.waitForRecords("salesforce", "Billing_Invoice__c", count: 2)
            #expect(invoices.count == 2)
            let invoice = try #require(invoices.first { $0["Name"] == "ACM-7C3E-012-002" })
            #expect(invoice["Total_Amount__c"] == 138)
            #expect(invoice["Account__c"] == account["Id"])
            #expect(invoice["Issuing_Date__c"] == "2025-04-01")
            #expect(invoices.first { $0["Name"] == "ACM-7C3E-012-003" }?["Status__c"] == "voided")
            let payments = try await stack.waitForRecords("salesforce", "Billing_Payment__c", count: 1)
            #expect(payments.first?["Invoice__c"] == invoice["Id"])
            #expect(payments.first?["Amount__c"] == 138)
            let creditNotes = try await stack.waitForRecords("salesforce", "Billing_Credit_Note__c", count: 1)
            #expect(creditNotes.first?["Invoice__c"] == invoice["Id"])
            let subscriptions = try await stack.waitForRecords("salesforce", "Billing_Subscription__c", count: 1)
            #expect(subscriptions.first?["Plan_Code__c"] == "startup_monthly")
            #expect(invoice["Subscription__c"] == subscriptions.first?["Id"])
            let products = try await stack.waitForRecords("salesforce", "Product2", count: 1)
            #expect(products.first?["ProductCode"] == "startup_monthly")
            let prices = try await stack.waitForRecords("salesforce", "PricebookEntry", count: 1)
            #expect(prices.first?["UnitPrice"] == 100)
            #expect(try await stack.waitForRecords("salesforce", "Billing_Coupon__c", count: 1).first?["Code__c"] == "welcome10")
            #expect(try await stack.waitForRecords("salesforce", "Billing_Applied_Coupon__c", count: 1).count == 1)

            // NetSuite: the customer, both invoices, the payment applied to the first, the credit memo, and
            // the void's credit memo.
            let customers = try await stack.waitForRecords("netsuite", "customer", count: 1)
            #expect(customers.count == 1)
            #expect(customers.first?["entityId"] == "cust_acme_001")
            let nsInvoices = try await stack.waitForRecords("netsuite", "invoice", count: 2)
            #expect(nsInvoices.count == 2)
            let payment = try #require(try await stack.waitForRecords("netsuite", "customerPayment", count: 1).first)
            #expect(payment["payment"] == 138)
            let memos = try await stack.waitForRecords("netsuite", "creditMemo", count: 2)
            #expect(memos.count == 2)
            // erp-writer knows the internal id of every parent it wrote: it never reads one back.
            let netsuiteCalls = try await stack.statistics("netsuite")["callsByOperation"]
            #expect((netsuiteCalls?["record.get"]?.numberValue ?? 0) == 0, "\(String(describing: netsuiteCalls))")

            // Replaying every webhook under new delivery ids changes nothing.
            var before: [String: Int] = [:]
            let watched = [("salesforce", "Account"), ("salesforce", "Billing_Invoice__c"), ("salesforce", "Billing_Payment__c"),
                           ("netsuite", "customer"), ("netsuite", "invoice"), ("netsuite", "creditMemo"), ("netsuite", "customerPayment")]
            for (system, type) in watched { before["\(system)/\(type)"] = try await stack.records(system, type).count }
            let results = try makeConsumer(bootstrapServers: stack.bootstrapServers, topics: [Topic.syncResults])
            for (name, body) in try Self.story() {
                let response = try await stack.post(body, uniqueKey: "replay-\(name)")
                #expect(response.status == .ok)
            }
            // Every replayed event has its results; the webhook with the most commands comes last.
            let collected = await ContractEndToEndTests.collectMessages(from: results, timeout: .seconds(40)) { messages in
                messages.compactMap { ContractEndToEndTests.result($0) }.contains { $0.source.eventID == "replay-invoice.voided" }
            }
            await results.close()
            let decoded = collected.compactMap { try? JSONDecoder().decode(SyncResult.self, from: Data($0.value)) }
            #expect(decoded.contains { $0.outcome == .unchanged && $0.source.eventID.hasPrefix("replay-") })
            #expect(!decoded.contains { $0.outcome == .created && $0.source.eventID.hasPrefix("replay-") })
            for (system, type) in watched {
                #expect(try await stack.records(system, type).count == before["\(system)/\(type)"], "\(system) \(type)")
            }
        }
    }

    @Test func aRejectedRecordFailsOnceWithTheProvidersReasonAndTheRestGoesOn() async throws {
        try await withSyncStack { stack in
            // The sandbox's validation rule refuses Account names starting with REJECT; NetSuite takes it.
            var rejected = try #require(JSONValue.parse(Data(try Fixtures.lago("customer.created"))))
            rejected = rejected.setting("REJECT Corp", at: "customer.name")
                .setting("cust_reject_001", at: "customer.external_id")
                .setting("aaaaaaaa-1111-4222-8333-444455556666", at: "customer.lago_id")
            let results = try makeConsumer(bootstrapServers: stack.bootstrapServers, topics: [Topic.syncResults])
            let deadLetters = try makeConsumer(bootstrapServers: stack.bootstrapServers, topics: [Topic.deadLetters(of: Topic.crmCommands)])
            // Expire the writer's session half-way: the next write must refresh it without a failure.
            #expect(try await stack.post(Array(rejected.encoded()), uniqueKey: "reject-1").status == .ok)
            _ = try await stack.http.execute(HTTPClientRequest(method: .post, url: "\(stack.salesforceURL)/_sandbox/sessions/expire"))
            #expect(try await stack.post(try Fixtures.lago("customer.created"), uniqueKey: "after-reject").status == .ok)

            let accounts = try await stack.waitForRecords("salesforce", "Account", count: 1)
            #expect(accounts.map { $0["Name"] } == ["Acme Corp"])
            #expect(try await stack.waitForRecords("netsuite", "customer", count: 2).count == 2)

            let failures = await collect(1, from: deadLetters, timeout: .seconds(40))
            await deadLetters.close()
            #expect(failures.count == 1)
            #expect(failures.first?.header(DeadLetterHeader.errorCode) == "FIELD_CUSTOM_VALIDATION_EXCEPTION")
            let all = await collect(4, from: results, timeout: .seconds(40))
            await results.close()
            let decoded = all.compactMap { try? JSONDecoder().decode(SyncResult.self, from: Data($0.value)) }
            let failed = decoded.filter { $0.outcome == .failed }
            #expect(failed.count == 1)
            #expect(failed.first?.error?.code == "FIELD_CUSTOM_VALIDATION_EXCEPTION")
            #expect(failed.first?.source.billingID == "aaaaaaaa-1111-4222-8333-444455556666")
            #expect(failed.first?.object == "Account")
            #expect(decoded.filter { $0.outcome == .created }.count == 3)
        }
    }
}
