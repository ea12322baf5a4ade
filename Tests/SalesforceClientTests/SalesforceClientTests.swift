import Contract
import Foundation
import SalesforceClient
import SalesforceSandbox
import Testing

/// The Salesforce client against the simulated org.
@Suite("Salesforce client", .timeLimit(.minutes(2)))
struct SalesforceClientTests {
    typealias GrantKind = SalesforceTestOrg.GrantKind

    // MARK: Authentication

    @Test(arguments: GrantKind.allCases)
    func grantObtainsATokenOnceAndCallsTheInstance(_ grant: GrantKind) async throws {
        try await SalesforceTestOrg.run { org in
            let client = try org.client(grant)
            #expect(client.apiUsage == nil)
            #expect(client.restCallCount == 0)
            #expect(try await client.query("SELECT Id FROM Account WHERE Name = 'nobody'").isEmpty)
            #expect(try await client.query("SELECT Id FROM Account WHERE Name = 'nobody'").isEmpty)
            #expect(try await org.tokenRequests() == 1)
            #expect(client.restCallCount == 2)
        }
    }

    @Test(arguments: [
        (GrantKind.clientCredentials, "invalid_client", "invalid client credentials"),
        (GrantKind.refreshToken, "invalid_grant", "expired access/refresh token"),
        (GrantKind.jwtBearer, "invalid_grant", "user hasn't approved this consumer"),
    ])
    func refusedCredentialsAreAnAuthenticationError(_ grant: GrantKind, code: String, message: String) async throws {
        try await SalesforceTestOrg.run { org in
            let client = try org.client(grant, validCredentials: false)
            let error = await #expect(throws: SalesforceCallError.self) {
                try await client.upsert(object: "Account", externalIDField: "Billing_Id__c", records: [["Billing_Id__c": "cus_1", "Name": "Acme"]])
            }
            guard case .authentication(let actualCode, let actualMessage)? = error else {
                Issue.record("expected an authentication error, got \(String(describing: error))")
                return
            }
            #expect(actualCode == code)
            #expect(actualMessage == message)
            #expect(client.restCallCount == 0)
            #expect(try await org.recordCount("Account") == 0)
        }
    }

    @Test func tokenEndpointOutageIsTransient() async throws {
        try await SalesforceTestOrg.run { org in
            try await org.setFaults(["errorRates": ["503": 1]])
            let client = try org.client()
            let error = await #expect(throws: SalesforceCallError.self) { try await client.query("SELECT Id FROM Account") }
            guard case .transient(let status, _)? = error else {
                Issue.record("expected a transient error, got \(String(describing: error))")
                return
            }
            #expect(status == 503)
            try await org.setFaults([:])
            #expect(try await client.query("SELECT Id FROM Account").isEmpty)
        }
    }

    // MARK: Sessions

    @Test func expiredSessionIsRenewedByOneTokenRequestForConcurrentCallers() async throws {
        try await SalesforceTestOrg.run { org in
            let client = try org.client()
            let first = try await client.upsert(object: "Account", externalIDField: "Billing_Id__c", records: [["Billing_Id__c": "cus_1", "Name": "Acme"]])
            #expect(first.map(\.success) == [true])
            #expect(try await org.tokenRequests() == 1)

            try await org.expireSessions()
            // Random latency makes the callers' requests overlap, so several of them meet the expired
            // session, some answered before the new token arrives and some after.
            try await org.setFaults(["latencyMs": ["min": 0, "max": 80]])
            let counts = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<8 {
                    group.addTask { try await client.query("SELECT Id, Name FROM Account").count }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(counts == Array(repeating: 1, count: 8))
            #expect(try await org.tokenRequests() == 2)
            #expect(try await org.responses(withStatus: 401) >= 1)
            // One upsert, eight queries, and a second try for each query that met the expired session.
            let unauthorized = try await org.responses(withStatus: 401)
            #expect(client.restCallCount == 1 + 8 + unauthorized)
        }
    }

    @Test func sessionThatStaysInvalidIsAnAuthenticationError() async throws {
        try await SalesforceTestOrg.run { org in
            // Every request expires every session just before it is handled.
            try await org.setFaults(["sessionExpiryRate": 1])
            let client = try org.client()
            let error = await #expect(throws: SalesforceCallError.self) { try await client.query("SELECT Id FROM Account") }
            guard case .authentication(let code, let message)? = error else {
                Issue.record("expected an authentication error, got \(String(describing: error))")
                return
            }
            #expect(code == "INVALID_SESSION_ID")
            #expect(message.contains("Session expired or invalid"))
            #expect(client.restCallCount == 2)
            #expect(try await org.tokenRequests() == 2)
        }
    }

    // MARK: Collections

    @Test func upsertCreatesThenUpdatesWithStableIds() async throws {
        try await SalesforceTestOrg.run { org in
            let client = try org.client()
            let records: [[String: JSONValue]] = (1...3).map { ["Billing_Id__c": .string("cus_\($0)"), "Name": .string("Customer \($0)")] }
            let created = try await client.upsert(object: "Account", externalIDField: "Billing_Id__c", records: records)
            #expect(created.map(\.success) == [true, true, true])
            #expect(created.map(\.created) == [true, true, true])
            #expect(created.allSatisfy { $0.errors.isEmpty })
            let ids = created.compactMap(\.id)
            #expect(ids.count == 3 && ids.allSatisfy { $0.hasPrefix("001") && $0.count == 18 })
            #expect(Set(ids).count == 3)

            // Records come back in request order; the second run updates the same records.
            let renamed = records.reversed().map { record in record.merging(["Name": "Renamed"]) { _, new in new } }
            let updated = try await client.upsert(object: "Account", externalIDField: "Billing_Id__c", records: renamed)
            #expect(updated.map(\.created) == [false, false, false])
            #expect(updated.compactMap(\.id) == ids.reversed())

            let rows = try await client.query("SELECT Id, Name, Billing_Id__c FROM Account ORDER BY Billing_Id__c")
            #expect(rows.map { $0["Name"] } == ["Renamed", "Renamed", "Renamed"])
            #expect(rows.compactMap { $0["Id"]?.stringValue } == ids)
            #expect(rows.allSatisfy { $0["attributes"] == nil })
            #expect(try await org.callCount("collections.upsert") == 2)
            #expect(client.restCallCount == 3)
        }
    }

    @Test func perRecordErrorsComeBackWithCodeMessageAndFields() async throws {
        try await SalesforceTestOrg.run { org in
            let client = try org.client()
            let results = try await client.upsert(
                object: "Account", externalIDField: "Billing_Id__c",
                records: [
                    ["Billing_Id__c": "cus_ok", "Name": "Fine Ltd"],
                    ["Billing_Id__c": "cus_rejected", "Name": "REJECT me"],
                    ["Billing_Id__c": "cus_nameless", "Phone": "555"],
                ])
            #expect(results.map(\.success) == [true, false, false])
            #expect(results[0].created == true)
            #expect(results[1].id == nil)
            #expect(
                results[1].errors == [
                    SalesforceRecordError(
                        statusCode: "FIELD_CUSTOM_VALIDATION_EXCEPTION",
                        message: "Account names starting with REJECT are refused by the org's validation rule.", fields: ["Name"])
                ])
            #expect(results[2].errors == [SalesforceRecordError(statusCode: "REQUIRED_FIELD_MISSING", message: "Required fields are missing: [Name]", fields: ["Name"])])
            #expect(try await org.recordCount("Account") == 1)
        }
    }

    @Test func updateChangesRecordsByIdAndReportsEachOne() async throws {
        try await SalesforceTestOrg.run { org in
            let client = try org.client()
            let created = try await client.upsert(
                object: "Account", externalIDField: "Billing_Id__c",
                records: [["Billing_Id__c": "cus_a", "Name": "A"], ["Billing_Id__c": "cus_b", "Name": "B"]])
            let ids = created.compactMap(\.id)
            try #require(ids.count == 2)

            let results = try await client.update(
                object: "Account",
                records: [
                    ["Id": .string(ids[0]), "Name": "A renamed"],
                    ["Id": "not-an-id", "Name": "x"],
                    ["Id": .string(ids[1]), "Name": "REJECT b"],
                ])
            #expect(results.map(\.success) == [true, false, false])
            #expect(results[0].id == ids[0])
            #expect(results[0].created == nil)
            #expect(results[1].errors.first?.statusCode == "MALFORMED_ID")
            #expect(results[1].errors.first?.fields == ["Id"])
            #expect(results[2].errors.first?.statusCode == "FIELD_CUSTOM_VALIDATION_EXCEPTION")
            let names = try await client.query("SELECT Name FROM Account ORDER BY Name").compactMap { $0["Name"]?.stringValue }
            #expect(names == ["A renamed", "B"])
            #expect(try await org.callCount("collections.update") == 1)
        }
    }

    @Test func compositeWritesParentsBeforeChildrenInOneCall() async throws {
        try await SalesforceTestOrg.run { org in
            let client = try org.client()
            let outcomes = try await client.write([
                SalesforceCollectionWrite(
                    object: "Account", externalIDField: "Billing_Id__c", records: [["Billing_Id__c": "cus_parent", "Name": "Parent Ltd"]]),
                // Points at the Account of the subrequest before it, by external ID.
                SalesforceCollectionWrite(
                    object: "Billing_Subscription__c", externalIDField: "Billing_Id__c",
                    records: [
                        ["Billing_Id__c": "sub_1", "Name": "sub_1", "Account__r": ["Billing_Id__c": "cus_parent"]],
                        ["Billing_Id__c": "sub_2", "Name": "sub_2", "Account__r": ["Billing_Id__c": "cus_elsewhere"]],
                    ]),
                SalesforceCollectionWrite(object: "Nope__c", externalIDField: "Billing_Id__c", records: [["Billing_Id__c": "x"]]),
            ])
            try #require(outcomes.count == 3)
            let account = try outcomes[0].get()
            #expect(account.map(\.created) == [true])
            let subscriptions = try outcomes[1].get()
            #expect(subscriptions.map(\.success) == [true, false])
            #expect(subscriptions[1].errors.first?.statusCode == "INVALID_FIELD")
            #expect(subscriptions[1].errors.first?.message.contains("cus_elsewhere") == true)
            guard case .failure(.rejected(404, let errors)) = outcomes[2] else {
                Issue.record("expected the unknown object's subrequest to be refused with 404, got \(outcomes[2])")
                return
            }
            #expect(errors.first?.statusCode == "NOT_FOUND")
            #expect(try await org.recordCount("Billing_Subscription__c") == 1)
            #expect(try await org.callCount("composite") == 1)
            #expect(client.restCallCount == 1)
        }
    }

    @Test func emptyBatchesMakeNoCall() async throws {
        try await SalesforceTestOrg.run { org in
            let client = try org.client()
            #expect(try await client.upsert(object: "Account", externalIDField: "Billing_Id__c", records: []).isEmpty)
            #expect(try await client.update(object: "Account", records: []).isEmpty)
            #expect(client.restCallCount == 0)
            #expect(try await org.tokenRequests() == 0)
        }
    }

    @Test func refusedCallIsRejectedWithSalesforceErrors() async throws {
        try await SalesforceTestOrg.run { org in
            let client = try org.client()
            let unknownField = await #expect(throws: SalesforceCallError.self) {
                try await client.upsert(object: "Account", externalIDField: "Nope__c", records: [["Nope__c": "1", "Name": "x"]])
            }
            guard case .rejected(let status, let errors)? = unknownField else {
                Issue.record("expected a rejection, got \(String(describing: unknownField))")
                return
            }
            #expect(status == 404)
            #expect(errors.first?.statusCode == "NOT_FOUND")

            let badQuery = await #expect(throws: SalesforceCallError.self) { try await client.query("SELECT Nmae FROM Account") }
            guard case .rejected(400, let queryErrors)? = badQuery else {
                Issue.record("expected a 400 rejection, got \(String(describing: badQuery))")
                return
            }
            #expect(queryErrors.first?.statusCode == "INVALID_FIELD")
            #expect(badQuery.map { "\($0)" }?.contains("INVALID_FIELD") == true)
        }
    }

    // MARK: Query

    @Test func queryFollowsNextRecordsUrlToTheEnd() async throws {
        try await SalesforceTestOrg.run({ $0.queryBatchSize = 200 }) { org in
            let client = try org.client()
            for batch in 0..<3 {
                let records: [[String: JSONValue]] = (batch * 150..<(batch + 1) * 150).map {
                    ["Billing_Id__c": .string("page_\($0)"), "Name": .string("Paged \($0)")]
                }
                let results = try await client.upsert(object: "Account", externalIDField: "Billing_Id__c", records: records)
                #expect(results.allSatisfy { $0.success })
            }
            let calls = client.restCallCount
            let rows = try await client.query("SELECT Id, Name, Billing_Id__c FROM Account WHERE Name LIKE 'Paged %'")
            #expect(rows.count == 450)
            #expect(Set(rows.compactMap { $0["Billing_Id__c"]?.stringValue }) == Set((0..<450).map { "page_\($0)" }))
            #expect(rows.allSatisfy { $0["attributes"] == nil && $0["Id"]?.stringValue != nil })
            #expect(client.restCallCount == calls + 3)
            #expect(try await org.callCount("query") == 3)
        }
    }

    @Test func soqlIsPercentEncodedWithPlusAndQuotesIntact() async throws {
        try await SalesforceTestOrg.run { org in
            let client = try org.client()
            // A `+` sent unencoded would be read as a space and match the second name instead.
            _ = try await client.upsert(
                object: "Account", externalIDField: "Billing_Id__c",
                records: [["Billing_Id__c": "plus", "Name": "O'Brien + Sons & Co 100%"], ["Billing_Id__c": "space", "Name": "O'Brien   Sons & Co 100%"]])
            let rows = try await client.query(#"SELECT Billing_Id__c, Name FROM Account WHERE Name = 'O\'Brien + Sons & Co 100%'"#)
            #expect(rows.map { $0["Billing_Id__c"] } == ["plus"])
            #expect(rows.first?["Name"] == "O'Brien + Sons & Co 100%")
        }
    }

    // MARK: Limits and failures

    @Test func apiUsageFollowsSforceLimitInfo() async throws {
        try await SalesforceTestOrg.run { org in
            let client = try org.client()
            #expect(client.apiUsage == nil)
            _ = try await client.query("SELECT Id FROM Account")
            #expect(client.apiUsage == SalesforceAPIUsage(used: 1, maximum: 100_000))
            _ = try await client.upsert(object: "Account", externalIDField: "Billing_Id__c", records: [["Billing_Id__c": "cus_1", "Name": "Acme"]])
            let usage = try #require(client.apiUsage)
            #expect(usage == SalesforceAPIUsage(used: 2, maximum: 100_000))
            #expect(usage.share == 2.0 / 100_000)
        }
    }

    @Test func spentDailyAllocationIsRequestLimitExceeded() async throws {
        try await SalesforceTestOrg.run({ $0.dailyApiRequests = 2 }) { org in
            let client = try org.client()
            _ = try await client.query("SELECT Id FROM Account")
            _ = try await client.query("SELECT Id FROM Account")
            #expect(client.apiUsage == SalesforceAPIUsage(used: 2, maximum: 2))
            let error = await #expect(throws: SalesforceCallError.self) {
                try await client.upsert(object: "Account", externalIDField: "Billing_Id__c", records: [["Billing_Id__c": "cus_1", "Name": "Acme"]])
            }
            guard case .requestLimitExceeded(let message)? = error else {
                Issue.record("expected requestLimitExceeded, got \(String(describing: error))")
                return
            }
            #expect(message == "TotalRequests Limit exceeded.")
            #expect(client.apiUsage?.share == 1)
            #expect(try await org.recordCount("Account") == 0)
        }
    }

    @Test(arguments: [
        (#"{"errorRates": {"503": 1}}"#, 503),
        (#"{"errorRates": {"500": 1}}"#, 500),
        // The sandbox renders an injected 400 as a whole-call UNABLE_TO_LOCK_ROW.
        (#"{"errorRates": {"400": 1}}"#, 400),
        (#"{"dropConnectionRate": 1}"#, nil),
    ])
    func serverTroubleIsTransient(_ faults: String, status: Int?) async throws {
        try await SalesforceTestOrg.run { org in
            let client = try org.client()
            _ = try await client.query("SELECT Id FROM Account")
            try await org.setFaults(try #require(JSONValue.parse(Data(faults.utf8))))
            let error = await #expect(throws: SalesforceCallError.self) {
                try await client.upsert(object: "Account", externalIDField: "Billing_Id__c", records: [["Billing_Id__c": "cus_1", "Name": "Acme"]])
            }
            guard case .transient(let actual, let message)? = error else {
                Issue.record("expected a transient error, got \(String(describing: error))")
                return
            }
            #expect(actual == status)
            #expect(!message.isEmpty)
            try await org.setFaults([:])
            let retried = try await client.upsert(object: "Account", externalIDField: "Billing_Id__c", records: [["Billing_Id__c": "cus_1", "Name": "Acme"]])
            #expect(retried.map(\.success) == [true])
        }
    }
}
