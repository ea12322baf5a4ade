import Contract
import Foundation
@testable import NetSuiteClient
import Testing

@Suite("NetSuite client parts", .timeLimit(.minutes(1)))
struct NetSuiteClientUnitTests {
    // MARK: OAuth 1.0a signature, against published vectors

    @Test func baseStringAndSignatureMatchTheRFC5849AndOauthlibVectors() {
        // RFC 5849 §3.4.1.1's example parameters (decoded), signed with HMAC-SHA256 as oauthlib's tests do.
        let query = [("b5", "=%3D"), ("a3", "a"), ("c@", ""), ("a2", "r b")]
        let parameters =
            query + [("c2", ""), ("a3", "2 q")] + [
                ("oauth_consumer_key", "9djdj82h48djs9d2"), ("oauth_token", "kkk9d7dh3k39sjv7"), ("oauth_signature_method", "HMAC-SHA1"),
                ("oauth_timestamp", "137131201"), ("oauth_nonce", "7d8f3e4a"),
            ]
        let base = TokenBasedSigner.baseString(method: "post", baseURI: "http://example.com/request", parameters: parameters)
        #expect(
            base
                == "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk9d7dh3k39sjv7"
        )
        let signature = TokenBasedSigner.signature(
            of: base, consumerSecret: "ECrDNoq1VYzzzzzzzzzyAK7TwZNtPnkqatqZZZZ", tokenSecret: "just-a-string    asdasd")
        #expect(signature == "wdfdHUKXHbOnOGZP8WFAWMSAmWzN3EVBWWgXGlC/Eo4=")
    }

    @Test func theHeaderReproducesOraclesPublishedExample() {
        // Oracle's "Using TBA for REST Web Services" example and the signature it publishes.
        let signer = TokenBasedSigner(
            consumerKey: "ef40afdd8abaac111b13825dd5e5e2ddddb44f86d5a0dd6dcf38c20aae6b67e4",
            consumerSecret: "d26ad321a4b2f23b0741c8d38392ce01c3e23e109df6c96eac6d099e9ab9e8b5",
            tokenID: "2b0ce516420110bcbd36b69e99196d1b7f6de3c6234c5afb799b73d87569f5cc",
            tokenSecret: "c29a677df7d5439a458c063654187e3d678d73aca8e3c9d8bea1478a3eb0d295", accountID: "123456")
        let header = signer.authorization(
            method: "GET", baseURI: "https://123456.suitetalk.api.netsuite.com/services/rest/record/v1/employee/40", query: [],
            timestamp: 1_508_242_306, nonce: "fjaLirsIcCGVZWzBX0pg")
        #expect(header.hasPrefix("OAuth realm=\"123456\", "))
        #expect(header.contains("oauth_signature=\"B5OIWznZ2YP0OB7VrJrGkYsTh%2B8H%2B5T9Hag%2Bo92q0zY%3D\""))
        #expect(header.contains("oauth_signature_method=\"HMAC-SHA256\""))
        #expect(header.contains("oauth_version=\"1.0\""))
        #expect(!header.contains("c29a677df7d5439a458c063654187e3d678d73aca8e3c9d8bea1478a3eb0d295"))
    }

    @Test func theBaseURIIsNormalizedAndTheQueryIsSigned() {
        #expect(TokenBasedSigner.normalizedBaseURI("HTTPS://Example.COM:443/a/eid:x%20y") == "https://example.com/a/eid:x%20y")
        #expect(TokenBasedSigner.normalizedBaseURI("http://127.0.0.1:8092/a") == "http://127.0.0.1:8092/a")
        let signer = TokenBasedSigner(consumerKey: "ck", consumerSecret: "cs", tokenID: "t", tokenSecret: "ts", accountID: "1_sb1")
        let plain = signer.authorization(method: "GET", baseURI: "https://h/x", query: [], timestamp: 1, nonce: "abcdefgh")
        let withQuery = signer.authorization(method: "GET", baseURI: "https://h/x", query: [("fields", "id")], timestamp: 1, nonce: "abcdefgh")
        #expect(plain != withQuery)
        #expect(plain.hasPrefix("OAuth realm=\"1_SB1\""))
    }

    @Test func noncesAreTwentyRandomAlphanumerics() {
        let nonces = (0..<50).map { _ in TokenBasedSigner.nonce() }
        #expect(nonces.allSatisfy { $0.count == 20 && $0.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) } })
        #expect(Set(nonces).count == 50)
    }

    @Test func realmsAreUpperCaseWithUnderscores() {
        #expect(TokenBasedSigner.realm(accountID: "1234567_sb1") == "1234567_SB1")
        #expect(TokenBasedSigner.realm(accountID: "1234567-sb1") == "1234567_SB1")
        #expect(TokenBasedSigner.realm(accountID: "TSTDRV1234567") == "TSTDRV1234567")
    }

    // MARK: URLs

    @Test func externalIDsOutsideTheSafeSetArePercentEncoded() {
        #expect(NetSuiteClient.recordPath(recordType: "customer", externalID: "lago_cus-1") == "/services/rest/record/v1/customer/eid:lago_cus-1")
        #expect(NetSuiteClient.recordPath(recordType: "invoice", externalID: "a b|c/ü.~") == "/services/rest/record/v1/invoice/eid:a%20b%7Cc%2F%C3%BC%2E%7E")
        #expect(NetSuiteClient.queryString([("replace", "item,apply"), ("q", "a b")]) == "replace=item,apply&q=a%20b")
    }

    @Test(arguments: [
        ("https://123.suitetalk.api.netsuite.com/services/rest/record/v1/customer/647", "647"),
        ("/services/rest/record/v1/invoice/1001?x=1", "1001"),
        ("https://h/services/rest/record/v1/customer/eid:abc", nil),
        ("", nil),
    ] as [(String, String?)])
    func theInternalIDIsTheLocationsLastSegment(_ location: String, _ expected: String?) {
        #expect(NetSuiteClient.internalID(fromLocation: location) == expected)
    }

    // MARK: Errors

    static func body(_ json: JSONValue) -> [UInt8] { Array(json.encoded()) }

    @Test func errorDetailsAreReadAsNetSuiteGivesThem() {
        let body = Self.body([
            "type": "https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html#sec10.4.1", "title": "Bad Request", "status": 400,
            "o:errorDetails": [
                ["detail": "Invalid value 9999 for item", "o:errorCode": "INVALID_CONTENT", "o:errorPath": "item.items[0].item"],
                ["detail": "Second problem", "o:errorCode": "USER_ERROR"],
            ],
        ])
        guard case .rejected(400, let details) = NetSuiteErrors.callError(status: 400, body: body) else {
            Issue.record("expected a rejection")
            return
        }
        #expect(
            details == [
                NetSuiteErrorDetail(code: "INVALID_CONTENT", detail: "Invalid value 9999 for item", path: "item.items[0].item"),
                NetSuiteErrorDetail(code: "USER_ERROR", detail: "Second problem", path: nil),
            ])
    }

    @Test func aBodyWithoutDetailsStillGivesOne() {
        guard case .rejected(403, let details) = NetSuiteErrors.callError(status: 403, body: Self.body(["title": "Forbidden", "o:errorCode": "USER_ERROR"]))
        else {
            Issue.record("expected a rejection")
            return
        }
        #expect(details == [NetSuiteErrorDetail(code: "USER_ERROR", detail: "Forbidden", path: nil)])
        guard case .rejected(404, let plain) = NetSuiteErrors.callError(status: 404, body: Array("Not Found".utf8)) else {
            Issue.record("expected a rejection")
            return
        }
        #expect(plain == [NetSuiteErrorDetail(code: "HTTP_404", detail: "Not Found", path: nil)])
    }

    enum Kind: Equatable { case authentication, transient, rejected }

    static func kind(_ error: NetSuiteCallError) -> Kind {
        switch error {
        case .authentication: .authentication
        case .transient: .transient
        case .rejected: .rejected
        }
    }

    @Test(arguments: [
        (401, "INVALID_LOGIN", Kind.authentication),
        (429, "CONCURRENCY_LIMIT_EXCEEDED", .transient),
        (400, "SSS_REQUEST_LIMIT_EXCEEDED", .transient),
        (500, "UNEXPECTED_ERROR", .transient),
        (503, "UNEXPECTED_ERROR", .transient),
        (400, "USER_ERROR", .rejected),
        (404, "NONEXISTENT_ID", .rejected),
        (405, "USER_ERROR", .rejected),
    ])
    func statusesAndCodesAreSorted(_ status: Int, _ code: String, _ expected: Kind) {
        let body = Self.body(["status": .number(Decimal(status)), "o:errorDetails": [["detail": "text", "o:errorCode": .string(code)]]])
        #expect(Self.kind(NetSuiteErrors.callError(status: status, body: body)) == expected)
    }

    @Test func failuresWithoutResponseAreTransient() {
        guard case .transient(nil, _) = NetSuiteErrors.callError(CancellationError()) else {
            Issue.record("expected a transient error")
            return
        }
    }

    // MARK: The semaphore

    @Test func theSemaphoreHandsPermitsOutInOrder() async throws {
        let semaphore = AsyncSemaphore(permits: 1)
        try await semaphore.acquire()
        let order = OrderRecorder()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<5 {
                group.addTask {
                    try await semaphore.acquire()
                    await order.append(index)
                    semaphore.release()
                }
                // Each waiter queues before the next starts.
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(await order.values.isEmpty)
            semaphore.release()
            try await group.waitForAll()
        }
        #expect(await order.values == [0, 1, 2, 3, 4])
    }

    @Test func aCancelledWaiterLeavesWithoutAPermit() async throws {
        let semaphore = AsyncSemaphore(permits: 1)
        try await semaphore.acquire()
        let waiter = Task { try await semaphore.acquire() }
        try await Task.sleep(for: .milliseconds(20))
        waiter.cancel()
        await #expect(throws: CancellationError.self) { try await waiter.value }
        // The permit is still the first holder's, and goes back to the pool on release.
        semaphore.release()
        try await semaphore.acquire()
        semaphore.release()
    }
}

actor OrderRecorder {
    var values: [Int] = []
    func append(_ value: Int) { values.append(value) }
}
