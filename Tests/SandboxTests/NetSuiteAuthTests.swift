import Contract
import Crypto
import Foundation
import HTTPTypes
import JWTKit
@testable import NetSuiteSandbox
import SandboxCore
import TestSupport
import Testing

/// OAuth 1.0a (RFC 5849) as a NetSuite client signs: written from the RFC for the tests, apart from
/// the sandbox's verifier, and checked against published vectors before it is trusted.
struct OAuth1Signer: Sendable {
    var consumerKey: String
    var consumerSecret: String
    var token: String
    var tokenSecret: String
    var realm: String
    var signatureMethod = "HMAC-SHA256"

    init(consumerKey: String, consumerSecret: String, token: String, tokenSecret: String, realm: String) {
        self.consumerKey = consumerKey
        self.consumerSecret = consumerSecret
        self.token = token
        self.tokenSecret = tokenSecret
        self.realm = realm
    }

    init(_ credential: NetSuiteSettings.TokenCredential, realm: String) {
        self.init(
            consumerKey: credential.consumerKey, consumerSecret: credential.consumerSecret, token: credential.tokenId,
            tokenSecret: credential.tokenSecret, realm: realm)
    }

    private static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    static func percentEncode(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? text
    }

    /// The base string URI (RFC 5849 §3.4.1.2) and the decoded query parameters of `url`.
    static func split(_ url: String) -> (baseURI: String, query: [(String, String)]) {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(), let host = components.host?.lowercased()
        else { return (url, []) }
        let isDefaultPort = components.port == nil || (scheme == "http" && components.port == 80) || (scheme == "https" && components.port == 443)
        let authority = isDefaultPort ? host : "\(host):\(components.port ?? 0)"
        let query = (components.percentEncodedQuery ?? "").split(separator: "&").map { pair -> (String, String) in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map {
                $0.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String($0)
            }
            return (parts[0], parts.count > 1 ? parts[1] : "")
        }
        return ("\(scheme)://\(authority)\(components.percentEncodedPath)", query)
    }

    static func baseString(method: String, baseURI: String, parameters: [(String, String)]) -> String {
        let pairs = parameters.map { (percentEncode($0.0), percentEncode($0.1)) }
        let sorted = pairs.sorted { left, right in left.0 != right.0 ? left.0 < right.0 : left.1 < right.1 }
        let normalized = sorted.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
        return "\(method.uppercased())&\(percentEncode(baseURI))&\(percentEncode(normalized))"
    }

    static func signature(of baseString: String, consumerSecret: String, tokenSecret: String, method: String = "HMAC-SHA256") -> String {
        let key = SymmetricKey(data: Data("\(percentEncode(consumerSecret))&\(percentEncode(tokenSecret))".utf8))
        let message = Data(baseString.utf8)
        if method == "HMAC-SHA1" {
            return Data(HMAC<Crypto.Insecure.SHA1>.authenticationCode(for: message, using: key)).base64EncodedString()
        }
        return Data(HMAC<SHA256>.authenticationCode(for: message, using: key)).base64EncodedString()
    }

    static func freshNonce() -> String { UUID().uuidString.replacingOccurrences(of: "-", with: "") }
    static func now() -> Int { Int(Date().timeIntervalSince1970) }

    /// The `Authorization` header for a request to `url` (query included).
    func authorization(method: String, url: String, timestamp: Int = now(), nonce: String = freshNonce()) -> String {
        let (baseURI, query) = Self.split(url)
        let oauth = [
            ("oauth_consumer_key", consumerKey), ("oauth_token", token), ("oauth_nonce", nonce), ("oauth_timestamp", String(timestamp)),
            ("oauth_signature_method", signatureMethod), ("oauth_version", "1.0"),
        ]
        let base = Self.baseString(method: method, baseURI: baseURI, parameters: oauth + query)
        let signature = Self.signature(of: base, consumerSecret: consumerSecret, tokenSecret: tokenSecret, method: signatureMethod)
        let fields = [("realm", realm)] + oauth + [("oauth_signature", signature)]
        return "OAuth " + fields.map { "\($0.0)=\"\(Self.percentEncode($0.1))\"" }.joined(separator: ", ")
    }
}

/// Oracle's example inputs for the REST web services TBA header (help topic "Using TBA for REST
/// Web Services"), with the signature Oracle publishes for them.
enum OracleTBAExample {
    static let url = "https://123456.suitetalk.api.netsuite.com/services/rest/record/v1/employee/40"
    static let credential = NetSuiteSettings.TokenCredential(
        consumerKey: "ef40afdd8abaac111b13825dd5e5e2ddddb44f86d5a0dd6dcf38c20aae6b67e4",
        consumerSecret: "d26ad321a4b2f23b0741c8d38392ce01c3e23e109df6c96eac6d099e9ab9e8b5",
        tokenId: "2b0ce516420110bcbd36b69e99196d1b7f6de3c6234c5afb799b73d87569f5cc",
        tokenSecret: "c29a677df7d5439a458c063654187e3d678d73aca8e3c9d8bea1478a3eb0d295")
    static let nonce = "fjaLirsIcCGVZWzBX0pg"
    static let timestamp = 1_508_242_306
    static let signature = "B5OIWznZ2YP0OB7VrJrGkYsTh+8H+5T9Hag+o92q0zY="
}

@Suite("NetSuite sandbox authentication", .timeLimit(.minutes(2)))
struct NetSuiteAuthTests {
    // MARK: The test signer against published vectors

    @Test func signerReproducesRFC5849BaseStringAndOauthlibSignature() {
        let (baseURI, query) = OAuth1Signer.split("http://example.com/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b")
        let parameters = query + [("c2", ""), ("a3", "2 q")] + [
            ("oauth_consumer_key", "9djdj82h48djs9d2"), ("oauth_token", "kkk9d7dh3k39sjv7"), ("oauth_signature_method", "HMAC-SHA1"),
            ("oauth_timestamp", "137131201"), ("oauth_nonce", "7d8f3e4a"),
        ]
        let base = OAuth1Signer.baseString(method: "POST", baseURI: baseURI, parameters: parameters)
        #expect(
            base
                == "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk9d7dh3k39sjv7"
        )
        let signature = OAuth1Signer.signature(
            of: base, consumerSecret: "ECrDNoq1VYzzzzzzzzzyAK7TwZNtPnkqatqZZZZ", tokenSecret: "just-a-string    asdasd")
        #expect(signature == "wdfdHUKXHbOnOGZP8WFAWMSAmWzN3EVBWWgXGlC/Eo4=")
    }

    @Test func signerReproducesOraclesPublishedSignature() throws {
        let signer = OAuth1Signer(OracleTBAExample.credential, realm: "123456")
        let header = signer.authorization(
            method: "GET", url: OracleTBAExample.url, timestamp: OracleTBAExample.timestamp, nonce: OracleTBAExample.nonce)
        let expected = OAuth1Signer.percentEncode(OracleTBAExample.signature)
        #expect(header.contains("oauth_signature=\"\(expected)\""))
    }

    // MARK: The sandbox's verifier against the same vectors

    @Test func verifierComputesTheRFC5849BaseString() {
        let base = TokenBasedAuthentication.baseString(
            method: "post", baseURI: "http://example.com/request",
            parameters: [
                ("b5", "=%3D"), ("a3", "a"), ("c@", ""), ("a2", "r b"), ("c2", ""), ("a3", "2 q"), ("oauth_consumer_key", "9djdj82h48djs9d2"),
                ("oauth_token", "kkk9d7dh3k39sjv7"), ("oauth_signature_method", "HMAC-SHA1"), ("oauth_timestamp", "137131201"),
                ("oauth_nonce", "7d8f3e4a"),
            ])
        #expect(base.hasPrefix("POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q%26a3%3Da%26b5%3D%253D%25253D"))
        #expect(base.hasSuffix("oauth_timestamp%3D137131201%26oauth_token%3Dkkk9d7dh3k39sjv7"))
    }

    @Test func theAuthorizationHeaderIsReadWithItsValuesDecoded() {
        let parameters = TokenBasedAuthentication.parameters(
            ofHeader: "OAuth realm=\"123_SB1\",\toauth_nonce = \"a%20b\" , oauth_signature=\"x%2By%3D\", oauth_token=\"%C3%BC\"")
        #expect(parameters == ["realm": "123_SB1", "oauth_nonce": "a b", "oauth_signature": "x+y=", "oauth_token": "ü"])
    }

    @Test(arguments: [
        "OAuth oauth_nonce=\"%4\"", "OAuth oauth_nonce=\"%G1\"", "OAuth oauth_nonce=\"%FF\"", "OAuth oauth_nonce=\"a\", oauth_nonce=\"b\"",
        "OAuth oauth_nonce", "Bearer abc",
    ])
    func malformedAuthorizationHeadersAreRefused(_ header: String) {
        #expect(TokenBasedAuthentication.parameters(ofHeader: header) == nil)
    }

    @Test func queryStringsDecodePlusAsASpaceOnlyInForms() {
        #expect(QueryString.parameters("q=a+b%2Bc&limit=5&empty=&flag").map { "\($0.name)=\($0.value)" } == ["q=a b+c", "limit=5", "empty=", "flag="])
        #expect(PercentCoding.decode("a+b%20c") == "a+b c")
        #expect(PercentCoding.encode("a b+ü~") == "a%20b%2B%C3%BC~")
    }

    @Test func verifierAcceptsOraclesExampleAtItsTimestamp() throws {
        var settings = NetSuiteSettings()
        settings.accountId = "123456"
        settings.tokenCredentials = [OracleTBAExample.credential]
        let verifier = TokenBasedAuthentication(settings: settings)
        let header = OAuth1Signer(OracleTBAExample.credential, realm: "123456").authorization(
            method: "GET", url: OracleTBAExample.url, timestamp: OracleTBAExample.timestamp, nonce: OracleTBAExample.nonce)
        let request = TokenBasedAuthentication.SignedRequest(method: "GET", baseURI: OracleTBAExample.url, queryParameters: [], authorization: header)
        let then = Date(timeIntervalSince1970: TimeInterval(OracleTBAExample.timestamp))
        #expect(throws: Never.self) { try verifier.verify(request, now: then) }

        // The same nonce and timestamp a second time is a replay.
        let replay = #expect(throws: LoginFailure.self) { try verifier.verify(request, now: then) }
        #expect(replay?.reason == "nonce_used")
        let tampered = TokenBasedAuthentication.SignedRequest(
            method: "GET", baseURI: OracleTBAExample.url + "1", queryParameters: [], authorization: header)
        let failure = #expect(throws: LoginFailure.self) { try verifier.verify(tampered, now: then) }
        #expect(failure?.reason == "InvalidSignature")
    }

    // MARK: TBA over HTTP

    static let invalidLoginBody: JSONValue = [
        "type": "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.2", "title": "Unauthorized", "status": 401,
        "o:errorDetails": [
            [
                "detail":
                    "Invalid login attempt. For more details, see the Login Audit Trail in the NetSuite UI at Setup > Users/Roles > User Management > View Login Audit Trail.",
                "o:errorCode": "INVALID_LOGIN",
            ]
        ],
    ]

    @Test func aCorrectlySignedRequestIsAccepted() async throws {
        try await NetSuiteHarness.run { netsuite in
            let list = try await netsuite.send(.get, "/services/rest/record/v1/currency?limit=2&offset=0")
            #expect(list.status == 200)
            #expect(list.json?["totalResults"] == 4)
        }
    }

    enum TBAFailure: String, CaseIterable, Sendable {
        case badSignature, hmacSHA1, wrongRealm, reusedNonce, oldTimestamp, shortNonce, unknownToken, unsignedQuery, missingHeader

        var auditReason: String {
            switch self {
            case .badSignature, .unsignedQuery: "InvalidSignature"
            case .hmacSHA1: "UnsupportedSignatureMethod"
            case .wrongRealm: "InvalidAccount"
            case .reusedNonce: "nonce_used"
            case .oldTimestamp: "InvalidTimestamp"
            case .shortNonce: "nonce_rejected"
            case .unknownToken: "InvalidToken"
            case .missingHeader: "MissingAuthorization"
            }
        }
    }

    @Test(arguments: TBAFailure.allCases)
    func everyTBAFailureIsTheSameInvalidLogin(_ failure: TBAFailure) async throws {
        try await NetSuiteHarness.run { netsuite in
            let path = "/services/rest/record/v1/currency?limit=5"
            let url = netsuite.harness.base + path
            var signer = netsuite.signer
            var authorization: String?
            switch failure {
            case .badSignature:
                signer.tokenSecret = "not-the-secret"
            case .hmacSHA1:
                signer.signatureMethod = "HMAC-SHA1"
            case .wrongRealm:
                signer.realm = "tstdrv1234567"
            case .reusedNonce:
                let header = signer.authorization(method: "GET", url: url, nonce: "SameNonce123")
                let first = try await netsuite.harness.send(.get, path, headers: [.authorization: header])
                #expect(first.status == 200)
                authorization = header
            case .oldTimestamp:
                authorization = signer.authorization(method: "GET", url: url, timestamp: OAuth1Signer.now() - 400)
            case .shortNonce:
                authorization = signer.authorization(method: "GET", url: url, nonce: "abc12")
            case .unknownToken:
                signer.token = "someone-elses-token"
            case .unsignedQuery:
                authorization = signer.authorization(method: "GET", url: netsuite.harness.base + "/services/rest/record/v1/currency?limit=6")
            case .missingHeader:
                break
            }
            var headers: HTTPFields = [:]
            if failure != .missingHeader {
                headers[.authorization] = authorization ?? signer.authorization(method: "GET", url: url)
            }
            let reply = try await netsuite.harness.send(.get, path, headers: headers)
            #expect(reply.status == 401)
            #expect(reply.json == Self.invalidLoginBody)
            #expect(reply.header("Content-Type") == "application/vnd.oracle.resource+json; type=error")

            let audit = try await netsuite.stats()["loginAudit"]?.arrayValue ?? []
            #expect(audit.last?["reason"]?.stringValue == failure.auditReason)
            if failure != .missingHeader {
                #expect(audit.last?["consumerKey"]?.stringValue == signer.consumerKey)
            }
        }
    }

    @Test func behindAProxyTheSignatureCoversPublicBaseURL() async throws {
        try await NetSuiteHarness.run(configure: { settings in
            settings.accountId = "123456_sb1"
            settings.publicBaseURL = "https://123456-SB1.suitetalk.api.netsuite.com:443/"
        }) { netsuite in
            #expect(netsuite.signer.realm == "123456_SB1")
            let path = "/services/rest/record/v1/currency/1"
            let publicURL = "https://123456-sb1.suitetalk.api.netsuite.com" + path
            let viaProxy = try await netsuite.harness.send(
                .get, path, headers: [.authorization: netsuite.signer.authorization(method: "GET", url: publicURL)])
            #expect(viaProxy.status == 200)
            #expect(viaProxy.json?["links"]?.arrayValue?.first?["href"]?.stringValue == publicURL)

            let direct = try await netsuite.harness.send(
                .get, path, headers: [.authorization: netsuite.signer.authorization(method: "GET", url: netsuite.harness.base + path)])
            #expect(direct.status == 401)
        }
    }

    // MARK: OAuth 2.0 client credentials (M2M)

    private struct AssertionClaims: JWTPayload {
        var iss: String
        var scope: String
        var aud: String
        var iat: IssuedAtClaim
        var exp: ExpirationClaim
        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    private static let tokenPath = "/services/rest/auth/oauth2/v1/token"

    /// A client assertion as a NetSuite M2M client builds it, with the fields a test overrides.
    private static func assertion(
        keys: JWTKeyCollection, audience: String, kid: String = NetSuiteSettings().certificateId, issuer: String = NetSuiteSettings().clientId,
        scope: String = "restlets,rest_webservices", issuedAt: Date = Date(), lifetime: TimeInterval = 300
    ) async throws -> String {
        var header = JWTHeader()
        header.typ = "JWT"
        let claims = AssertionClaims(
            iss: issuer, scope: scope, aud: audience, iat: IssuedAtClaim(value: issuedAt), exp: ExpirationClaim(value: issuedAt.addingTimeInterval(lifetime)))
        return try await keys.sign(claims, kid: JWKIdentifier(string: kid), header: header)
    }

    private static func tokenRequest(_ netsuite: NetSuiteHarness, assertion: String, grantType: String = "client_credentials") async throws
        -> SandboxHarness.Reply
    {
        try await netsuite.harness.send(
            .post, tokenPath,
            form: [
                ("grant_type", grantType), ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
                ("client_assertion", assertion),
            ])
    }

    /// Writes a PEM to a temporary file for `certificateFile`.
    private static func pemFile(_ pem: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("netsuite-m2m-\(UUID().uuidString).pem").path
        try pem.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func clientCredentialsTokenAuthorizesRecordRequestsUntilSessionsExpire() async throws {
        let privateKey = P256.Signing.PrivateKey()
        let keyFile = try Self.pemFile(privateKey.publicKey.pemRepresentation)
        defer { try? FileManager.default.removeItem(atPath: keyFile) }
        let keys = await JWTKeyCollection().add(ecdsa: try ES256PrivateKey(pem: privateKey.pemRepresentation))

        try await NetSuiteHarness.run(configure: { $0.certificateFile = keyFile }) { netsuite in
            let assertion = try await Self.assertion(keys: keys, audience: netsuite.harness.base + Self.tokenPath)
            let token = try await Self.tokenRequest(netsuite, assertion: assertion)
            #expect(token.status == 200)
            #expect(token.json?["expires_in"] == "3600")
            #expect(token.json?["token_type"] == "bearer")
            let accessToken = try #require(token.json?["access_token"]?.stringValue)

            let bearer: HTTPFields = [.authorization: "Bearer \(accessToken)"]
            let read = try await netsuite.harness.send(.get, "/services/rest/record/v1/subsidiary/1", headers: bearer)
            #expect(read.status == 200)
            #expect(read.json?["name"] == "Parent Company")

            let expire = try await netsuite.harness.send(.post, "/_sandbox/sessions/expire")
            #expect(expire.status == 204)
            let expired = try await netsuite.harness.send(.get, "/services/rest/record/v1/subsidiary/1", headers: bearer)
            #expect(expired.status == 401)
            #expect(expired.json == Self.invalidLoginBody)
            // TBA has no session: it keeps working.
            let tba = try await netsuite.send(.get, "/services/rest/record/v1/subsidiary/1")
            #expect(tba.status == 200)
        }
    }

    @Test func clientCredentialsRefusals() async throws {
        let privateKey = P256.Signing.PrivateKey()
        let keyFile = try Self.pemFile(privateKey.publicKey.pemRepresentation)
        defer { try? FileManager.default.removeItem(atPath: keyFile) }
        let ecKeys = await JWTKeyCollection().add(ecdsa: try ES256PrivateKey(pem: privateKey.pemRepresentation))
        let rsaKeys = await JWTKeyCollection().add(rsa: try Insecure.RSA.PrivateKey(pem: LagoSigning.jwtPrivateKeyPEM), digestAlgorithm: .sha256)
        let otherEcKeys = await JWTKeyCollection().add(ecdsa: ES256PrivateKey())

        try await NetSuiteHarness.run(configure: { $0.certificateFile = keyFile }) { netsuite in
            let audience = netsuite.harness.base + Self.tokenPath
            func error(_ assertion: String, grantType: String = "client_credentials") async throws -> String? {
                let reply = try await Self.tokenRequest(netsuite, assertion: assertion, grantType: grantType)
                #expect(reply.status == 400)
                return reply.json?["error"]?.stringValue
            }
            #expect(try await error(Self.assertion(keys: rsaKeys, audience: audience)) == "invalid_grant")  // RS256
            #expect(try await error(Self.assertion(keys: otherEcKeys, audience: audience)) == "invalid_grant")  // another key
            #expect(try await error(Self.assertion(keys: ecKeys, audience: audience, kid: "another-certificate")) == "invalid_client")
            #expect(try await error(Self.assertion(keys: ecKeys, audience: audience, issuer: "another-client")) == "invalid_client")
            #expect(try await error(Self.assertion(keys: ecKeys, audience: "https://login.example.com/token")) == "invalid_grant")
            #expect(try await error(Self.assertion(keys: ecKeys, audience: audience, scope: "restlets")) == "invalid_grant")
            #expect(
                try await error(Self.assertion(keys: ecKeys, audience: audience, issuedAt: Date().addingTimeInterval(-600), lifetime: 300))
                    == "invalid_grant")  // expired
            #expect(try await error(Self.assertion(keys: ecKeys, audience: audience, lifetime: 7200)) == "invalid_grant")  // exp − iat > 1 h
            #expect(try await error(Self.assertion(keys: ecKeys, audience: audience), grantType: "password") == "unsupported_grant_type")
            #expect(try await error("") == "invalid_request")

            let reasons = try await netsuite.stats()["loginAudit"]?.arrayValue?.compactMap { $0["reason"]?.stringValue } ?? []
            #expect(reasons.contains("UnsupportedAlgorithm"))
            #expect(reasons.contains("InvalidAudience"))
            #expect(reasons.contains("ExpiredAssertion"))

            let unknownToken = try await netsuite.harness.send(
                .get, "/services/rest/record/v1/subsidiary/1", headers: [.authorization: "Bearer not-a-token"])
            #expect(unknownToken.status == 401)
        }
    }

    @Test func psAlgorithmsWorkWithAnRSAPublicKey() async throws {
        let keyFile = try Self.pemFile(LagoSigning.jwtPublicKeyPEM)
        defer { try? FileManager.default.removeItem(atPath: keyFile) }
        let privateKey = try Insecure.RSA.PrivateKey(pem: LagoSigning.jwtPrivateKeyPEM)
        try await NetSuiteHarness.run(configure: { $0.certificateFile = keyFile }) { netsuite in
            let audience = netsuite.harness.base + Self.tokenPath
            for digest in [DigestAlgorithm.sha256, .sha512] {
                let keys = await JWTKeyCollection().add(pss: privateKey, digestAlgorithm: digest)
                let reply = try await Self.tokenRequest(netsuite, assertion: Self.assertion(keys: keys, audience: audience))
                #expect(reply.status == 200)
            }
        }
    }

    @Test func withoutACertificateEveryAssertionIsAnInvalidClient() async throws {
        try await NetSuiteHarness.run { netsuite in
            let keys = await JWTKeyCollection().add(ecdsa: ES256PrivateKey())
            let reply = try await Self.tokenRequest(netsuite, assertion: Self.assertion(keys: keys, audience: netsuite.harness.base + Self.tokenPath))
            #expect(reply.status == 400)
            #expect(reply.json?["error"] == "invalid_client")
        }
    }
}
