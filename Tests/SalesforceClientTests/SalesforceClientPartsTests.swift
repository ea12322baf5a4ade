import Contract
import Foundation
@testable import SalesforceClient
import TestSupport
import Testing

/// The client's parsing and encoding rules, without a server.
@Suite("Salesforce client parts")
struct SalesforceClientPartsTests {
    @Test func limitInfoHeaderIsParsed() {
        #expect(SalesforceAPIUsage(limitInfo: "api-usage=10018/100000") == SalesforceAPIUsage(used: 10018, maximum: 100_000))
        #expect(
            SalesforceAPIUsage(limitInfo: "api-usage=18/5000, per-app-api-usage=17/250(appName=sample-connected-app)")
                == SalesforceAPIUsage(used: 18, maximum: 5000))
        #expect(SalesforceAPIUsage(limitInfo: "per-app-api-usage=17/250(appName=x), api-usage=3/4") == SalesforceAPIUsage(used: 3, maximum: 4))
        #expect(SalesforceAPIUsage(limitInfo: "api-usage=abc/100") == nil)
        #expect(SalesforceAPIUsage(limitInfo: "api-usage=5") == nil)
        #expect(SalesforceAPIUsage(limitInfo: "") == nil)
        #expect(SalesforceAPIUsage(used: 25, maximum: 100).share == 0.25)
        #expect(SalesforceAPIUsage(used: 25, maximum: 0).share == 0)
    }

    @Test func soqlAndFormValuesArePercentEncoded() {
        #expect(
            PercentEncoding.encode("SELECT Id FROM Account WHERE Name = 'a+b&c'")
                == "SELECT%20Id%20FROM%20Account%20WHERE%20Name%20%3D%20%27a%2Bb%26c%27")
        #expect(PercentEncoding.encode("Zoë/100%~_.-") == "Zo%C3%AB%2F100%25~_.-")
        #expect(PercentEncoding.form([("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"), ("a b", "x=y")])
            == "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&a%20b=x%3Dy")
    }

    @Test func queryRecordsLoseAttributesAlsoInParents() {
        let record: [String: JSONValue] = [
            "attributes": ["type": "Contact", "url": "/services/data/v62.0/sobjects/Contact/003"],
            "LastName": "Doe",
            "Account": ["attributes": ["type": "Account", "url": "/x"], "Name": "Acme"],
            "Notes__c": ["attributes": "kept: not a record"],
        ]
        #expect(
            SalesforceClient.removingAttributes(record)
                == ["LastName": "Doe", "Account": ["Name": "Acme"], "Notes__c": ["attributes": "kept: not a record"]])
    }

    @Test func bothErrorShapesAreRead() {
        #expect(
            SalesforceClient.recordError(["statusCode": "DUPLICATE_VALUE", "message": "dup", "fields": ["Billing_Id__c"]])
                == SalesforceRecordError(statusCode: "DUPLICATE_VALUE", message: "dup", fields: ["Billing_Id__c"]))
        #expect(
            SalesforceClient.recordError(["errorCode": "INVALID_SESSION_ID", "message": "Session expired or invalid"])
                == SalesforceRecordError(statusCode: "INVALID_SESSION_ID", message: "Session expired or invalid", fields: []))
        let decoded = try? JSONDecoder().decode(SalesforceRecordError.self, from: Data(#"{"errorCode":"NOT_FOUND","message":"gone"}"#.utf8))
        #expect(decoded == SalesforceRecordError(statusCode: "NOT_FOUND", message: "gone"))
        #expect(SalesforceClient.recordResult(["id": "001", "success": true, "errors": [], "created": false])
            == SalesforceRecordResult(id: "001", success: true, created: false, errors: []))
        #expect(SalesforceClient.recordResult(["id": "001"]) == nil)
    }

    @Test func wholeCallFailuresAreClassified() {
        func classify(_ status: Int, _ body: String) -> SalesforceCallError {
            SalesforceClient.classify(status: status, errors: SalesforceClient.errors(in: JSONValue.parse(Data(body.utf8)), status: status, text: body))
        }
        guard case .requestLimitExceeded("ConcurrentPerOrgLongTxn Limit exceeded.") = classify(
            403, #"[{"message":"ConcurrentPerOrgLongTxn Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]"#)
        else { Issue.record("403 REQUEST_LIMIT_EXCEEDED"); return }
        guard case .rejected(403, let errors) = classify(403, #"[{"message":"no access","errorCode":"INSUFFICIENT_ACCESS"}]"#) else {
            Issue.record("other 403"); return
        }
        #expect(errors.map(\.statusCode) == ["INSUFFICIENT_ACCESS"])
        guard case .transient(400, _) = classify(400, #"[{"message":"unable to obtain exclusive access","errorCode":"UNABLE_TO_LOCK_ROW"}]"#) else {
            Issue.record("UNABLE_TO_LOCK_ROW"); return
        }
        guard case .transient(429, _) = classify(429, "") else { Issue.record("429"); return }
        guard case .transient(502, let message) = classify(502, "<html>Bad gateway</html>") else { Issue.record("502"); return }
        #expect(message.contains("Bad gateway"))
        guard case .rejected(400, let malformed) = classify(400, #"[{"message":"bad json","errorCode":"JSON_PARSER_ERROR"}]"#) else {
            Issue.record("400"); return
        }
        #expect(malformed == [SalesforceRecordError(statusCode: "JSON_PARSER_ERROR", message: "bad json")])
        guard case .rejected(418, let opaque) = classify(418, "teapot") else { Issue.record("418"); return }
        #expect(opaque.first?.statusCode == "UNEXPECTED_RESPONSE")
        #expect(opaque.first?.message == "HTTP 418: teapot")
    }

    @Test func restPathsAndNextRecordsUrlsGoToTheInstance() {
        #expect(SalesforceClient.url("/services/data/v62.0/query/01g-200", instanceURL: "https://x.my.salesforce.com")
            == "https://x.my.salesforce.com/services/data/v62.0/query/01g-200")
        #expect(SalesforceClient.url("https://y.my.salesforce.com/services/data/v62.0/query/01g-200", instanceURL: "https://x.my.salesforce.com")
            == "https://y.my.salesforce.com/services/data/v62.0/query/01g-200")
        #expect(SalesforceSession.trimmingTrailingSlashes("https://login.salesforce.com//") == "https://login.salesforce.com")
    }

    @Test func jwtBearerAssertionCarriesTheDocumentedClaims() async throws {
        let now = Date()
        let assertion = try await SalesforceSession.assertion(
            clientID: "client-id", username: "user@example.com", privateKeyPEM: try Fixtures.text("keys/jwt-test-private.pem"),
            audience: "https://test.salesforce.com", now: now)
        let parts = assertion.split(separator: ".")
        try #require(parts.count == 3)
        let header = try #require(Self.base64URLJSON(parts[0]))
        let claims = try #require(Self.base64URLJSON(parts[1]))
        #expect(header["alg"] == "RS256")
        #expect(claims["iss"] == "client-id")
        #expect(claims["sub"] == "user@example.com")
        #expect(claims["aud"] == "https://test.salesforce.com")
        // Whole seconds, at most three minutes ahead.
        let exp = try #require(claims["exp"]?.numberValue.flatMap { Int("\($0)") })
        #expect(exp == Int(now.timeIntervalSince1970) + 180)
    }

    @Test func unreadablePrivateKeyIsAnAuthenticationErrorThatDoesNotQuoteTheKey() async {
        let error = await #expect(throws: SalesforceCallError.self) {
            try await SalesforceSession.assertion(
                clientID: "c", username: "u", privateKeyPEM: "-----BEGIN PRIVATE KEY-----\nsecretish\n-----END PRIVATE KEY-----", audience: "a")
        }
        guard case .authentication("invalid_private_key", let message)? = error else {
            Issue.record("expected invalid_private_key, got \(String(describing: error))")
            return
        }
        #expect(!message.contains("secretish"))
    }

    @Test func staleInvalidationKeepsTheNewerToken() async throws {
        try await SalesforceTestOrg.run { org in
            let session = SalesforceSession(settings: try org.connection(), http: org.http, logger: quietLogger)
            let first = try await session.token()
            #expect(try await session.token() == first)
            #expect(session.tokenRequestCount == 1)

            session.invalidate(first)
            let second = try await session.token()
            #expect(second.generation == first.generation + 1)
            #expect(second.accessToken != first.accessToken)
            #expect(second.instanceURL == org.base)
            // A late 401 for the first token must not throw the second one away.
            session.invalidate(first)
            #expect(try await session.token() == second)
            #expect(session.tokenRequestCount == 2)
            #expect(try await org.tokenRequests() == 2)
        }
    }

    @Test func concurrentCallersShareOneTokenRequest() async throws {
        try await SalesforceTestOrg.run { org in
            try await org.setFaults(["latencyMs": ["min": 50, "max": 50]])
            let session = SalesforceSession(settings: try org.connection(.jwtBearer), http: org.http, logger: quietLogger)
            let tokens = try await withThrowingTaskGroup(of: SalesforceAccessToken.self) { group in
                for _ in 0..<10 { group.addTask { try await session.token() } }
                return try await group.reduce(into: [SalesforceAccessToken]()) { $0.append($1) }
            }
            #expect(Set(tokens.map(\.accessToken)).count == 1)
            #expect(session.tokenRequestCount == 1)
            #expect(try await org.tokenRequests() == 1)
        }
    }

    static func base64URLJSON(_ part: Substring) -> JSONValue? {
        var text = part.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while text.count % 4 != 0 { text += "=" }
        return Data(base64Encoded: text).flatMap { JSONValue.parse($0) }
    }
}
