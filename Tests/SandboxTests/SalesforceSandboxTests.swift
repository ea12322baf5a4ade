import Contract
import Foundation
import HTTPTypes
import JWTKit
import SalesforceSandbox
import SandboxCore
import TestSupport
import Testing

/// The Salesforce simulator, driven over raw HTTP as a client would.
@Suite("Salesforce sandbox", .timeLimit(.minutes(2)))
struct SalesforceSandboxTests {
    static let version = "/services/data/v62.0"

    /// Serves a Salesforce sandbox with `configure`d settings and hands the test a session token.
    private func withSalesforce(
        seed: UInt64 = 7,
        settings: SalesforceSettings = .testing(),
        _ body: @escaping @Sendable (SandboxHarness, HTTPFields) async throws -> Void
    ) async throws {
        let environment = SandboxEnvironment(faults: FaultInjector(settings: settings.faults, seed: seed), concurrencyLimit: nil)
        let system = try await SalesforceSandbox.make(settings: settings, environment: environment)
        try await SandboxHarness.run(system, environment: environment) { harness in
            let token = try await harness.send(
                .post, "/services/oauth2/token",
                form: [("grant_type", "client_credentials"), ("client_id", settings.clientId), ("client_secret", settings.clientSecret)])
            let accessToken = try #require(token.json?["access_token"]?.stringValue)
            try await body(harness, [.authorization: "Bearer \(accessToken)"])
        }
    }

    private func firstError(_ reply: SandboxHarness.Reply) -> (code: String?, message: String?, fields: [String]) {
        let error = reply.json?.arrayValue?.first
        return (error?["errorCode"]?.stringValue, error?["message"]?.stringValue, error?["fields"]?.arrayValue?.compactMap(\.stringValue) ?? [])
    }

    // MARK: OAuth

    @Test func clientCredentialsAndRefreshTokenGrants() async throws {
        try await withSalesforce { sf, _ in
            let basic = Data("crossbill-sandbox-client:crossbill-sandbox-secret".utf8).base64EncodedString()
            let viaBasic = try await sf.send(.post, "/services/oauth2/token", form: [("grant_type", "client_credentials")], headers: [.authorization: "Basic \(basic)"])
            #expect(viaBasic.status == 200)
            #expect(viaBasic.json?["token_type"] == "Bearer")
            #expect(viaBasic.json?["instance_url"]?.stringValue == sf.base)
            #expect(viaBasic.json?["issued_at"]?.stringValue?.count == 13)

            let badSecret = try await sf.send(
                .post, "/services/oauth2/token", form: [("grant_type", "client_credentials"), ("client_id", "crossbill-sandbox-client"), ("client_secret", "nope")])
            #expect(badSecret.status == 400)
            #expect(badSecret.json?["error"] == "invalid_client")

            let refresh = try await sf.send(
                .post, "/services/oauth2/token",
                form: [("grant_type", "refresh_token"), ("refresh_token", "crossbill-sandbox-refresh-token"),
                       ("client_id", "crossbill-sandbox-client"), ("client_secret", "crossbill-sandbox-secret")])
            #expect(refresh.status == 200)
            let revoked = try await sf.send(
                .post, "/services/oauth2/token",
                form: [("grant_type", "refresh_token"), ("refresh_token", "revoked"),
                       ("client_id", "crossbill-sandbox-client"), ("client_secret", "crossbill-sandbox-secret")])
            #expect(revoked.json?["error"] == "invalid_grant")
            #expect(revoked.json?["error_description"] == "expired access/refresh token")

            let unsupported = try await sf.send(.post, "/services/oauth2/token", form: [("grant_type", "password")])
            #expect(unsupported.json?["error"] == "unsupported_grant_type")
        }
    }

    private struct Assertion: JWTPayload {
        var iss: String
        var sub: String
        var aud: String
        var exp: ExpirationClaim
        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    @Test func jwtBearerChecksSignatureIssuerSubjectAudienceAndExpiry() async throws {
        let keyFile = FileManager.default.temporaryDirectory.appendingPathComponent("sf-jwt-\(UUID().uuidString).pem")
        try Fixtures.text("keys/jwt-test-public.pem").write(to: keyFile, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: keyFile) }
        let signer = try await JWTKeyCollection().add(rsa: Insecure.RSA.PrivateKey(pem: Fixtures.text("keys/jwt-test-private.pem")), digestAlgorithm: .sha256)
        // Salesforce accepts RS256 only: an HMAC-signed assertion is invalid.
        let otherSigner = await JWTKeyCollection().add(hmac: "not-the-uploaded-certificate-but-an-hmac-secret-of-64-bytes-0123456789abcdef", digestAlgorithm: .sha256)
        try await withSalesforce(settings: .testing { $0.jwtCertificateFile = keyFile.path }) { sf, _ in
            func grant(_ assertion: Assertion, keys: JWTKeyCollection) async throws -> SandboxHarness.Reply {
                let token = try await keys.sign(assertion)
                return try await sf.send(.post, "/services/oauth2/token", form: [("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"), ("assertion", token)])
            }
            let soon = ExpirationClaim(value: Date().addingTimeInterval(120))
            let valid = Assertion(iss: "crossbill-sandbox-client", sub: "integration@crossbill.sandbox", aud: "https://login.salesforce.com", exp: soon)
            let ok = try await grant(valid, keys: signer)
            #expect(ok.status == 200)
            #expect(ok.json?["access_token"] != nil)
            #expect(ok.json?["refresh_token"] == nil)

            var wrongAudience = valid
            wrongAudience.aud = "https://example.com"
            #expect(try await grant(wrongAudience, keys: signer).json?["error_description"] == "audience is invalid")
            var expired = valid
            expired.exp = ExpirationClaim(value: Date().addingTimeInterval(-60))
            #expect(try await grant(expired, keys: signer).json?["error_description"] == "expired authorization code")
            var tooLong = valid
            tooLong.exp = ExpirationClaim(value: Date().addingTimeInterval(3600))
            #expect(try await grant(tooLong, keys: signer).json?["error"] == "invalid_grant")
            var wrongIssuer = valid
            wrongIssuer.iss = "someone-else"
            #expect(try await grant(wrongIssuer, keys: signer).json?["error"] == "invalid_client_id")
            var wrongUser = valid
            wrongUser.sub = "admin@crossbill.sandbox"
            #expect(try await grant(wrongUser, keys: signer).json?["error_description"] == "user hasn't approved this consumer")
            #expect(try await grant(valid, keys: otherSigner).json?["error_description"] == "invalid assertion")
        }
    }

    @Test func expiredOrUnknownSessionGetsInvalidSessionId() async throws {
        try await withSalesforce(settings: .testing { $0.sessionSeconds = 1 }) { sf, auth in
            #expect(try await sf.send(.get, "\(Self.version)/limits", headers: auth).status == 200)
            try await Task.sleep(for: .milliseconds(1200))
            let expired = try await sf.send(.get, "\(Self.version)/limits", headers: auth)
            #expect(expired.status == 401)
            #expect(expired.text == #"[{"errorCode":"INVALID_SESSION_ID","message":"Session expired or invalid"}]"#)
            #expect(try await sf.send(.get, "\(Self.version)/limits").status == 401)
        }
        try await withSalesforce { sf, auth in
            let expire = try await sf.send(.post, "/_sandbox/sessions/expire")
            #expect(expire.status == 204)
            #expect(try await sf.send(.get, "\(Self.version)/limits", headers: auth).status == 401)
        }
    }

    // MARK: Rows and upsert

    @Test func createReadUpdateDelete() async throws {
        try await withSalesforce { sf, auth in
            let created = try await sf.send(.post, "\(Self.version)/sobjects/Account", json: ["Name": "Acme", "Billing_Id__c": "cus_1"], headers: auth)
            #expect(created.status == 201)
            let id = try #require(created.json?["id"]?.stringValue)
            #expect(id.count == 18 && id.hasPrefix("001"))
            #expect(created.json?["success"] == true)

            let read = try await sf.send(.get, "\(Self.version)/sobjects/Account/\(id)", headers: auth)
            #expect(read.status == 200)
            #expect(read.json?["attributes"]?["type"] == "Account")
            #expect(read.json?["Name"] == "Acme")
            let created_at = try #require(read.json?["CreatedDate"]?.stringValue)
            #expect(created_at.range(of: #"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000$"#, options: .regularExpression) != nil)
            // The 15-character form names the same record.
            #expect(try await sf.send(.get, "\(Self.version)/sobjects/Account/\(id.prefix(15))", headers: auth).status == 200)

            #expect(try await sf.send(.patch, "\(Self.version)/sobjects/Account/\(id)", json: ["Phone": "555"], headers: auth).status == 204)
            #expect(try await sf.send(.get, "\(Self.version)/sobjects/Account/\(id)?fields=Phone", headers: auth).json?["Phone"] == "555")
            #expect(try await sf.send(.delete, "\(Self.version)/sobjects/Account/\(id)", headers: auth).status == 204)
            let gone = try await sf.send(.get, "\(Self.version)/sobjects/Account/\(id)", headers: auth)
            #expect(gone.status == 404)
            #expect(firstError(gone).code == "ENTITY_IS_DELETED")
        }
    }

    @Test func upsertByExternalId() async throws {
        try await withSalesforce { sf, auth in
            let path = "\(Self.version)/sobjects/Account/Billing_Id__c/cus_42"
            let first = try await sf.send(.patch, path, json: ["Name": "Acme"], headers: auth)
            #expect(first.status == 201)
            #expect(first.json?["created"] == true)
            // Matching is case-insensitive.
            let second = try await sf.send(.patch, "\(Self.version)/sobjects/Account/Billing_Id__c/CUS_42", json: ["Name": "Acme Inc"], headers: auth)
            #expect(second.status == 200)
            #expect(second.json?["created"] == false)
            #expect(second.json?["id"] == first.json?["id"])
            // Before v46 an update answered 204 without a body.
            #expect(try await sf.send(.patch, "/services/data/v45.0/sobjects/Account/Billing_Id__c/cus_42", json: ["Name": "A"], headers: auth).status == 204)

            let unknownField = try await sf.send(.patch, "\(Self.version)/sobjects/Account/Nope__c/1", json: ["Name": "x"], headers: auth)
            #expect(unknownField.status == 404)
            #expect(firstError(unknownField).code == "NOT_FOUND")

            // An external ID that is not unique can match several records: 300 and nothing written.
            for name in ["One", "Two"] {
                _ = try await sf.send(.post, "\(Self.version)/sobjects/Account", json: ["Name": .string(name), "External_Customer_Id__c": "shared"], headers: auth)
            }
            let ambiguous = try await sf.send(.patch, "\(Self.version)/sobjects/Account/External_Customer_Id__c/shared", json: ["Name": "x"], headers: auth)
            #expect(ambiguous.status == 300)
            #expect(ambiguous.json?.arrayValue?.count == 2)
        }
    }

    @Test func validationErrorsUseSalesforceCodes() async throws {
        try await withSalesforce { sf, auth in
            func create(_ object: String, _ fields: JSONValue) async throws -> (code: String?, message: String?, fields: [String]) {
                let reply = try await sf.send(.post, "\(Self.version)/sobjects/\(object)", json: fields, headers: auth)
                #expect(reply.status == 400)
                return firstError(reply)
            }
            let missing = try await create("Opportunity", ["Name": "Deal"])
            #expect(missing.code == "REQUIRED_FIELD_MISSING")
            #expect(missing.fields == ["StageName", "CloseDate"])
            #expect(try await create("Account", ["Name": "A", "Nope__c": 1]).message == "No such column 'Nope__c' on sobject of type Account")
            #expect(try await create("Account", ["Name": .string(String(repeating: "x", count: 256))]).code == "STRING_TOO_LONG")
            #expect(try await create("Account", ["Name": "A", "Billing_Email__c": "not-an-email"]).code == "INVALID_EMAIL_ADDRESS")
            #expect(try await create("Contact", ["LastName": "L", "AccountId": "xyz"]).code == "MALFORMED_ID")
            #expect(try await create("Opportunity", ["Name": "D", "StageName": "Won-ish", "CloseDate": "2026-01-01"]).code == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST")
            #expect(try await create("Opportunity", ["Name": "D", "StageName": "Prospecting", "CloseDate": "01/02/2026"]).code == "JSON_PARSER_ERROR")
            #expect(try await create("Opportunity", ["Name": "D", "StageName": "Closed Won", "CloseDate": "2026-01-01", "IsWon": true]).code == "INVALID_FIELD_FOR_INSERT_UPDATE")
            #expect(try await create("Account", ["Name": "REJECT me"]).code == "FIELD_CUSTOM_VALIDATION_EXCEPTION")
            _ = try await sf.send(.post, "\(Self.version)/sobjects/Account", json: ["Name": "A", "Billing_Id__c": "dup"], headers: auth)
            #expect(try await create("Account", ["Name": "B", "Billing_Id__c": "dup"]).code == "DUPLICATE_VALUE")
            let notJSON = try await sf.send(.post, "\(Self.version)/sobjects/Account", raw: "{nope", headers: auth)
            #expect(firstError(notJSON).code == "JSON_PARSER_ERROR")
        }
    }

    @Test func relationshipReferencesByExternalId() async throws {
        try await withSalesforce { sf, auth in
            let account = try await sf.send(.patch, "\(Self.version)/sobjects/Account/Billing_Id__c/cus_7", json: ["Name": "Acme"], headers: auth)
            let invoice = try await sf.send(
                .patch, "\(Self.version)/sobjects/Billing_Invoice__c/Billing_Id__c/inv_1",
                json: ["Name": "INV-1", "Account__r": ["Billing_Id__c": "cus_7"]], headers: auth)
            #expect(invoice.status == 201)
            let id = try #require(invoice.json?["id"]?.stringValue)
            #expect(try await sf.send(.get, "\(Self.version)/sobjects/Billing_Invoice__c/\(id)", headers: auth).json?["Account__c"] == account.json?["id"])

            let orphan = try await sf.send(
                .patch, "\(Self.version)/sobjects/Billing_Invoice__c/Billing_Id__c/inv_2",
                json: ["Name": "INV-2", "Account__r": ["Billing_Id__c": "cus_missing"]], headers: auth)
            #expect(orphan.status == 400)
            #expect(firstError(orphan).code == "INVALID_FIELD")
            #expect(firstError(orphan).message == "Foreign key external ID: cus_missing not found for field Billing_Id__c in entity Account")
        }
    }

    @Test func concurrentUpsertsOfOneNewKeyCollideWithDuplicateValue() async throws {
        try await withSalesforce(settings: .testing { $0.insertCommitMs = 1000 }) { sf, auth in
            func apiRequestsUsed() async throws -> JSONValue? { try await sf.send(.get, "/_sandbox/stats").json?["apiUsage"]?["used"] }
            let usedBefore = try #require(try await apiRequestsUsed()?.numberValue)
            async let first = sf.send(.patch, "\(Self.version)/sobjects/Account/Billing_Id__c/cus_race", json: ["Name": "A"], headers: auth)
            // The second goes in once the first is inside the sandbox, holding its new key (it has
            // counted against the API allocation), however slow the machine is.
            while try await apiRequestsUsed()?.numberValue == usedBefore { try await Task.sleep(for: .milliseconds(5)) }
            async let second = sf.send(.patch, "\(Self.version)/sobjects/Account/Billing_Id__c/cus_race", json: ["Name": "B"], headers: auth)
            let statuses = try await [first.status, second.status]
            #expect(statuses == [201, 400])
            #expect(firstError(try await second).code == "DUPLICATE_VALUE")
            #expect(try await sf.send(.get, "/_sandbox/records").json?["Account"] == 1)
        }
    }

    // MARK: Collections and composite

    @Test func collectionsUpsertReportsEachRecord() async throws {
        try await withSalesforce { sf, auth in
            let path = "\(Self.version)/composite/sobjects/Account/Billing_Id__c"
            _ = try await sf.send(.patch, "\(Self.version)/sobjects/Account/Billing_Id__c/cus_1", json: ["Name": "Old"], headers: auth)
            let records: JSONValue = [
                ["attributes": ["type": "Account"], "Billing_Id__c": "cus_1", "Name": "Updated"],
                ["attributes": ["type": "Account"], "Billing_Id__c": "cus_2", "Name": "New"],
                ["attributes": ["type": "Account"], "Billing_Id__c": "cus_3"],
                ["Billing_Id__c": "cus_4", "Name": "No type"],
            ]
            let reply = try await sf.send(.patch, path, json: ["allOrNone": false, "records": records], headers: auth)
            #expect(reply.status == 200)
            let results = try #require(reply.json?.arrayValue)
            #expect(results.map { $0["success"] } == [true, true, false, false])
            #expect(results.map { $0["created"] } == [false, true, nil, nil])
            #expect(results[2]["errors"]?.arrayValue?.first?["statusCode"] == "REQUIRED_FIELD_MISSING")
            #expect(results[3]["errors"]?.arrayValue?.first?["statusCode"] == "INVALID_TYPE")

            let atomic = try await sf.send(.patch, path, json: ["allOrNone": true, "records": [
                ["attributes": ["type": "Account"], "Billing_Id__c": "cus_5", "Name": "Five"],
                ["attributes": ["type": "Account"], "Billing_Id__c": "cus_6"],
            ]], headers: auth)
            let atomicResults = try #require(atomic.json?.arrayValue)
            #expect(atomicResults[0]["errors"]?.arrayValue?.first?["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK")
            #expect(atomicResults[1]["errors"]?.arrayValue?.first?["statusCode"] == "REQUIRED_FIELD_MISSING")
            #expect(try await sf.send(.get, "\(Self.version)/sobjects/Account/Billing_Id__c/cus_5", headers: auth).status == 404)

            let twice = try await sf.send(.patch, path, json: ["records": [
                ["attributes": ["type": "Account"], "Billing_Id__c": "cus_7", "Name": "A"],
                ["attributes": ["type": "Account"], "Billing_Id__c": "CUS_7", "Name": "B"],
            ]], headers: auth)
            #expect(twice.json?.arrayValue?.first?["errors"]?.arrayValue?.first?["statusCode"] == "DUPLICATE_EXTERNAL_ID")

            let tooMany = JSONValue.array((0...200).map { ["attributes": ["type": "Account"], "Billing_Id__c": .string("c\($0)"), "Name": "n"] })
            let refused = try await sf.send(.patch, path, json: ["records": tooMany], headers: auth)
            #expect(refused.status == 400)
            #expect(firstError(refused).code == "EXCEEDED_ID_LIMIT")

            let stats = try #require(try await sf.send(.get, "/_sandbox/stats").json)
            #expect(stats["callsByOperation"]?["collections.upsert"] == 4)
            #expect(stats["maxRecordsPerCall"] == 2)
        }
    }

    @Test func compositeResolvesReferencesAndRollsBackAllOrNone() async throws {
        try await withSalesforce { sf, auth in
            let ok = try await sf.send(.post, "\(Self.version)/composite", json: ["compositeRequest": [
                ["method": "POST", "url": .string("\(Self.version)/sobjects/Account"), "referenceId": "NewAccount", "body": ["Name": "Acme"]],
                ["method": "POST", "url": .string("\(Self.version)/sobjects/Billing_Subscription__c"), "referenceId": "Sub",
                 "body": ["Name": "S-1", "Account__c": "@{NewAccount.id}"]],
                ["method": "GET", "url": .string("\(Self.version)/sobjects/Account/@{NewAccount.id}"), "referenceId": "Read"],
            ]], headers: auth)
            #expect(ok.status == 200)
            let responses = try #require(ok.json?["compositeResponse"]?.arrayValue)
            #expect(responses.map { $0["httpStatusCode"] } == [201, 201, 200])
            #expect(responses[2]["body"]?["Name"] == "Acme")
            #expect(ok.header("Sforce-Limit-Info") == "api-usage=1/100000")

            let halted = try await sf.send(.post, "\(Self.version)/composite", json: ["allOrNone": true, "compositeRequest": [
                ["method": "POST", "url": .string("\(Self.version)/sobjects/Account"), "referenceId": "A", "body": ["Name": "Kept?"]],
                ["method": "POST", "url": .string("\(Self.version)/sobjects/Account"), "referenceId": "B", "body": ["Phone": "1"]],
            ]], headers: auth)
            let haltedResponses = try #require(halted.json?["compositeResponse"]?.arrayValue)
            #expect(haltedResponses[0]["body"]?.arrayValue?.first?["errorCode"] == "PROCESSING_HALTED")
            #expect(haltedResponses[1]["body"]?.arrayValue?.first?["errorCode"] == "REQUIRED_FIELD_MISSING")
            #expect(try await sf.send(.get, "/_sandbox/records").json?["Account"] == 1)

            let tooMany = JSONValue.array((0..<26).map { ["method": "GET", "url": .string("\(Self.version)/limits"), "referenceId": .string("r\($0)")] })
            #expect(try await sf.send(.post, "\(Self.version)/composite", json: ["compositeRequest": tooMany], headers: auth).status == 400)
        }
    }

    // MARK: Query

    @Test func queryFiltersSortsAndPages() async throws {
        try await withSalesforce { sf, auth in
            for batch in 0..<3 {
                let records = JSONValue.array((batch * 150..<(batch + 1) * 150).map {
                    ["attributes": ["type": "Account"], "Name": .string("Acct \($0)"), "Billing_Id__c": .string("q\($0)")]
                })
                _ = try await sf.send(.post, "\(Self.version)/composite/sobjects", json: ["records": records], headers: auth)
            }
            _ = try await sf.send(.post, "\(Self.version)/sobjects/Account", json: ["Name": "O'Brien & Co"], headers: auth)
            func query(_ soql: String, batch: Int? = nil) async throws -> SandboxHarness.Reply {
                let encoded = soql.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? soql
                var headers = auth
                if let batch { headers[HTTPField.Name("Sforce-Query-Options")!] = "batchSize=\(batch)" }
                return try await sf.send(.get, "\(Self.version)/query?q=\(encoded)", headers: headers)
            }
            let escaped = try await query(#"SELECT Id, Name FROM Account WHERE Name = 'O\'Brien & Co'"#)
            #expect(escaped.json?["totalSize"] == 1)
            let filtered = try await query("SELECT Name FROM Account WHERE Name LIKE 'acct 1%' AND (Billing_Id__c IN ('q1','q10') OR Name = 'Acct 149') ORDER BY Name DESC LIMIT 5")
            #expect(filtered.json?["records"]?.arrayValue?.compactMap { $0["Name"]?.stringValue } == ["Acct 149", "Acct 10", "Acct 1"])
            let bad = try await query(#"SELECT Name FROM Account WHERE Name = 'a\q'"#)
            #expect(bad.status == 400)
            #expect(firstError(bad).code == "MALFORMED_QUERY")
            #expect(firstError(try await query("SELECT Nmae FROM Account")).code == "INVALID_FIELD")

            let page1 = try await query("SELECT Id FROM Account", batch: 200)
            #expect(page1.json?["totalSize"] == 451)
            #expect(page1.json?["done"] == false)
            let next = try #require(page1.json?["nextRecordsUrl"]?.stringValue)
            let page2 = try await sf.send(.get, next, headers: auth)
            #expect(page2.json?["records"]?.arrayValue?.count == 200)
            let page3 = try await sf.send(.get, try #require(page2.json?["nextRecordsUrl"]?.stringValue), headers: auth)
            #expect(page3.json?["records"]?.arrayValue?.count == 51)
            #expect(page3.json?["done"] == true)
            #expect(firstError(try await sf.send(.get, "\(Self.version)/query/01gbogus-200", headers: auth)).code == "INVALID_QUERY_LOCATOR")

            _ = try await sf.send(.post, "\(Self.version)/sobjects/Contact", json: ["LastName": "Doe", "Account": ["Billing_Id__c": "q3"]], headers: auth)
            let parent = try await query("SELECT LastName, Account.Name FROM Contact")
            #expect(parent.json?["records"]?.arrayValue?.first?["Account"]?["Name"] == "Acct 3")
        }
    }

    // MARK: Org rules

    @Test func opportunityPriceBookAndLineItemRules() async throws {
        try await withSalesforce { sf, auth in
            func post(_ object: String, _ fields: JSONValue) async throws -> SandboxHarness.Reply {
                try await sf.send(.post, "\(Self.version)/sobjects/\(object)", json: fields, headers: auth)
            }
            let standard = try await sf.send(.get, "\(Self.version)/query?q=SELECT+Id+FROM+Pricebook2+WHERE+IsStandard+=+true", headers: auth)
            let standardId = try #require(standard.json?["records"]?.arrayValue?.first?["Id"]?.stringValue)
            let custom = try #require(try await post("Pricebook2", ["Name": "Partners", "IsActive": true]).json?["id"]?.stringValue)
            let product = try #require(try await post("Product2", ["Name": "Pro plan", "IsActive": true]).json?["id"]?.stringValue)

            let early = try await post("PricebookEntry", ["Pricebook2Id": .string(custom), "Product2Id": .string(product), "UnitPrice": 90])
            #expect(firstError(early).code == "STANDARD_PRICE_NOT_DEFINED")
            let entry = try #require(try await post("PricebookEntry", ["Pricebook2Id": .string(standardId), "Product2Id": .string(product), "UnitPrice": 100]).json?["id"]?.stringValue)
            #expect(firstError(try await post("PricebookEntry", ["Pricebook2Id": .string(standardId), "Product2Id": .string(product), "UnitPrice": 1])).code == "DUPLICATE_VALUE")
            #expect(try await post("PricebookEntry", ["Pricebook2Id": .string(custom), "Product2Id": .string(product), "UnitPrice": 90]).status == 201)

            let won = try await post("Opportunity", ["Name": "Deal", "StageName": "Closed Won", "CloseDate": "2026-11-30", "Amount": 5])
            let opportunity = try #require(won.json?["id"]?.stringValue)
            #expect(try await sf.send(.get, "\(Self.version)/sobjects/Opportunity/\(opportunity)", headers: auth).json?["IsWon"] == true)

            let both = try await post("OpportunityLineItem", ["OpportunityId": .string(opportunity), "PricebookEntryId": .string(entry), "Quantity": 2, "UnitPrice": 100, "TotalPrice": 200])
            #expect(firstError(both).code == "FIELD_INTEGRITY_EXCEPTION")
            #expect(try await post("OpportunityLineItem", ["OpportunityId": .string(opportunity), "PricebookEntryId": .string(entry), "Quantity": 2, "UnitPrice": 100]).status == 201)
            #expect(try await post("OpportunityLineItem", ["OpportunityId": .string(opportunity), "PricebookEntryId": .string(entry), "Quantity": 1, "TotalPrice": 50]).status == 201)
            // With line items the amount is their sum, and writing it is silently ignored.
            #expect(try await sf.send(.patch, "\(Self.version)/sobjects/Opportunity/\(opportunity)", json: ["Amount": 1], headers: auth).status == 204)
            let read = try await sf.send(.get, "\(Self.version)/sobjects/Opportunity/\(opportunity)", headers: auth)
            #expect(read.json?["Amount"] == 250)
            #expect(read.json?["Pricebook2Id"]?.stringValue == standardId)
        }
    }

    // MARK: Limits, faults and inspection

    @Test func dailyAllocationIsEnforcedAndReported() async throws {
        try await withSalesforce(settings: .testing { $0.dailyApiRequests = 2 }) { sf, auth in
            #expect(try await sf.send(.get, "\(Self.version)/limits", headers: auth).header("Sforce-Limit-Info") == "api-usage=1/2")
            #expect(try await sf.send(.get, "\(Self.version)/limits", headers: auth).json?["DailyApiRequests"]?["Remaining"] == 0)
            let refused = try await sf.send(.get, "\(Self.version)/limits", headers: auth)
            #expect(refused.status == 403)
            #expect(firstError(refused).code == "REQUEST_LIMIT_EXCEEDED")
            #expect(firstError(refused).message == "TotalRequests Limit exceeded.")
        }
    }

    @Test func faultsAreSeededAndConfigurableAtRunTime() async throws {
        try await withSalesforce { sf, _ in
            #expect(try await sf.send(.put, "/_sandbox/faults", json: ["errorRates": ["503": 0.5]]).status == 200)
            func statuses() async throws -> [Int] {
                var seen: [Int] = []
                for _ in 0..<16 { seen.append(try await sf.send(.get, "/services/data").status) }
                return seen
            }
            #expect(try await sf.send(.post, "/_sandbox/reset").status == 204)
            let first = try await statuses()
            #expect(Set(first) == [200, 503])
            // Reset reseeds: the same requests meet the same faults.
            #expect(try await sf.send(.post, "/_sandbox/reset").status == 204)
            #expect(try await statuses() == first)

            let invalid = try await sf.send(.put, "/_sandbox/faults", json: ["errorRates": ["503": 2]])
            #expect(invalid.status == 400)
            #expect(invalid.header("Content-Type") == "application/problem+json")
            let misspelt = try await sf.send(.put, "/_sandbox/faults", json: ["latencyMS": ["min": 1, "max": 2]])
            #expect(misspelt.status == 400)
            #expect(misspelt.json?["detail"]?.stringValue?.contains("latencyMS") == true)
        }
    }

    @Test func committedWriteWhoseResponseFailsIsNotDuplicatedByARetry() async throws {
        try await withSalesforce { sf, auth in
            #expect(try await sf.send(.put, "/_sandbox/faults", json: ["commitThenFailRate": 1]).status == 200)
            let path = "\(Self.version)/sobjects/Account/Billing_Id__c/cus_once"
            let failed = try await sf.send(.patch, path, json: ["Name": "Acme"], headers: auth)
            #expect(failed.status == 500)
            #expect(try await sf.send(.put, "/_sandbox/faults", json: [:]).status == 200)
            let retried = try await sf.send(.patch, path, json: ["Name": "Acme"], headers: auth)
            #expect(retried.status == 200)
            #expect(retried.json?["created"] == false)
            #expect(try await sf.send(.get, "/_sandbox/records").json?["Account"] == 1)

            #expect(try await sf.send(.put, "/_sandbox/faults", json: ["dropConnectionRate": 1]).status == 200)
            await #expect(throws: (any Error).self) { try await sf.send(.get, "\(Self.version)/limits", headers: auth) }
            #expect(try await sf.send(.put, "/_sandbox/faults", json: ["outages": [["startsAfterSeconds": 0, "durationSeconds": 60]]]).status == 200)
            let outage = try await sf.send(.get, "\(Self.version)/limits", headers: auth)
            #expect(outage.status == 503)
            #expect(firstError(outage).code == "SERVER_UNAVAILABLE")
            #expect(try await sf.send(.put, "/_sandbox/faults", json: ["sessionExpiryRate": 1]).status == 200)
            #expect(try await sf.send(.get, "\(Self.version)/limits", headers: auth).status == 401)

            let stats = try #require(try await sf.send(.get, "/_sandbox/stats").json)
            #expect(stats["faultsInjected"]?["commitThenFail"] == 1)
            // curl retries once on a fresh connection when a reused one closes without an answer.
            #expect((stats["faultsInjected"]?["droppedConnection"]).map { $0 == 1 || $0 == 2 } == true)
            let accounts = try await sf.send(.get, "/_sandbox/records/Account")
            #expect(accounts.json?.arrayValue?.first?["Billing_Id__c"] == "cus_once")
            #expect(try await sf.send(.get, "/_sandbox/records/Nope").status == 404)
        }
    }

    @Test func schemaFileMistakesNameTheObjectAndField() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("schema-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: url) }
        try Data(#"{"currencies":["USD"],"defaultCurrency":"USD","opportunityStages":[],"standardPricebook":{"name":"S"},"objects":[{"name":"Account","keyPrefix":"001","fields":[{"name":"Parent__c","type":"reference","referenceTo":"Acount","relationshipName":"Parent__r"}]}]}"#.utf8).write(to: url)
        #expect(throws: SchemaError.self) { try SalesforceSchema.load(from: url) }
        do {
            _ = try SalesforceSchema.load(from: url)
        } catch {
            #expect("\(error)".contains("object Account field Parent__c: referenceTo Acount"))
        }
        try Data(#"{"currencies":["USD"],"defaultCurrency":"USD","opportunityStages":[],"standardPricebook":{"name":"S"},"objects":[{"name":"Account","keyPrefix":"001","fields":[{"name":"Size","type":"int","lenght":3}]}]}"#.utf8).write(to: url)
        do {
            _ = try SalesforceSchema.load(from: url)
            Issue.record("a misspelt attribute must be refused")
        } catch {
            #expect("\(error)".contains("lenght"))
        }
    }
}

extension SalesforceSettings {
    /// The defaults, without the insert commit window (only the race test wants it), changed by `change`.
    static func testing(_ change: (inout SalesforceSettings) -> Void = { _ in }) -> SalesforceSettings {
        var settings = SalesforceSettings()
        settings.insertCommitMs = 0
        change(&settings)
        return settings
    }
}
