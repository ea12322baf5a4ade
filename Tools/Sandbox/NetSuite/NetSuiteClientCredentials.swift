import Contract
import Crypto
import Foundation
import JWTKit
import SandboxCore
import Synchronization

/// OAuth 2.0 client credentials (machine to machine): `POST /services/rest/auth/oauth2/v1/token`
/// with a signed JWT assertion, and the bearer tokens it issues.
final class ClientCredentialsAuthentication: Sendable {
    static let tokenPath = "/services/rest/auth/oauth2/v1/token"

    /// A token endpoint answer and, for a refusal, the reason for the login audit.
    struct TokenAnswer: Sendable {
        let status: Int
        let body: JSONValue
        let failure: LoginFailure?
    }

    private let clientId: String
    private let certificateId: String
    private let tokenSeconds: Int
    private let skewSeconds: Int
    /// One key collection per algorithm the uploaded key can verify, since a collection's key is
    /// bound to one digest.
    private let verifiers: [String: JWTKeyCollection]
    private let tokens = Mutex<[String: Date]>([:])

    init(settings: NetSuiteSettings) async throws {
        clientId = settings.clientId
        certificateId = settings.certificateId
        tokenSeconds = settings.accessTokenSeconds
        skewSeconds = settings.timestampSkewSeconds
        guard let path = settings.certificateFile else {
            verifiers = [:]
            return
        }
        let pem: String
        do {
            pem = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw NetSuiteSetupError(source: path, problem: "cannot be read: \(error.localizedDescription)")
        }
        verifiers = try await Self.verifiers(pem: pem, file: path)
    }

    /// The algorithms NetSuite accepts, by the key type the PEM holds (RSA: PS256/384/512; EC: the
    /// ES algorithm of its curve). RS256 is not among them.
    private static func verifiers(pem: String, file: String) async throws -> [String: JWTKeyCollection] {
        let isCertificate = pem.contains("BEGIN CERTIFICATE")
        if let key = try? (isCertificate ? Insecure.RSA.PublicKey(certificatePEM: pem) : Insecure.RSA.PublicKey(pem: pem)) {
            var result: [String: JWTKeyCollection] = [:]
            for (name, digest) in [("PS256", DigestAlgorithm.sha256), ("PS384", .sha384), ("PS512", .sha512)] {
                result[name] = await JWTKeyCollection().add(pss: key, digestAlgorithm: digest)
            }
            return result
        }
        if let key = try? (isCertificate ? ES256PublicKey(certificate: pem) : ES256PublicKey(pem: pem)) {
            return ["ES256": await JWTKeyCollection().add(ecdsa: key)]
        }
        if let key = try? (isCertificate ? ES384PublicKey(certificate: pem) : ES384PublicKey(pem: pem)) {
            return ["ES384": await JWTKeyCollection().add(ecdsa: key)]
        }
        if let key = try? (isCertificate ? ES512PublicKey(certificate: pem) : ES512PublicKey(pem: pem)) {
            return ["ES512": await JWTKeyCollection().add(ecdsa: key)]
        }
        throw NetSuiteSetupError(source: file, problem: "holds no RSA or EC (P-256, P-384, P-521) public key or certificate")
    }

    /// Answers a token request. The error bodies are RFC 6749's; NetSuite's exact bodies are unverified.
    func token(form: [String: String], audiences: Set<String>, now: Date = Date()) async -> TokenAnswer {
        let issuer = form["client_assertion"].flatMap(Self.unverifiedIssuer)
        func refuse(_ error: String, _ reason: String) -> TokenAnswer {
            TokenAnswer(status: 400, body: ["error": .string(error)], failure: LoginFailure(reason: reason, consumerKey: issuer))
        }
        guard let grantType = form["grant_type"] else { return refuse("invalid_request", "MissingGrantType") }
        guard grantType == "client_credentials" else { return refuse("unsupported_grant_type", "UnsupportedGrantType") }
        guard form["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" else {
            return refuse("invalid_request", "InvalidClientAssertionType")
        }
        guard let assertion = form["client_assertion"], !assertion.isEmpty else { return refuse("invalid_request", "MissingClientAssertion") }
        guard !verifiers.isEmpty else { return refuse("invalid_client", "NoCertificateConfigured") }

        let header: JWTHeader
        do {
            header = try DefaultJWTParser().parse(Array(assertion.utf8), as: ClientAssertion.self).header
        } catch {
            return refuse("invalid_grant", "MalformedAssertion")
        }
        guard header.kid == certificateId else { return refuse("invalid_client", "UnknownCertificateId") }
        guard let algorithm = header.alg, let keys = verifiers[algorithm] else { return refuse("invalid_grant", "UnsupportedAlgorithm") }
        let claims: ClientAssertion
        do {
            claims = try await keys.verify(assertion, as: ClientAssertion.self)
        } catch {
            return refuse("invalid_grant", "InvalidSignature")
        }
        guard claims.iss == clientId else { return refuse("invalid_client", "UnknownClientId") }
        guard claims.scopes.contains("rest_webservices") else { return refuse("invalid_grant", "InvalidScope") }
        guard let audience = claims.aud?.value, audience.contains(where: audiences.contains) else {
            return refuse("invalid_grant", "InvalidAudience")
        }
        guard let issuedAt = claims.iat?.value, let expiry = claims.exp?.value else { return refuse("invalid_grant", "MissingIatOrExp") }
        guard expiry > now else { return refuse("invalid_grant", "ExpiredAssertion") }
        guard expiry.timeIntervalSince(issuedAt) <= 3600, issuedAt.timeIntervalSince(now) <= Double(skewSeconds) else {
            return refuse("invalid_grant", "InvalidAssertionLifetime")
        }

        let token = Data(SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        tokens.withLock { tokens in
            tokens = tokens.filter { $0.value > now }
            tokens[token] = now.addingTimeInterval(Double(tokenSeconds))
        }
        // Oracle's example gives expires_in as a string.
        return TokenAnswer(
            status: 200, body: ["access_token": .string(token), "expires_in": .string(String(tokenSeconds)), "token_type": "bearer"],
            failure: nil)
    }

    /// Checks `Authorization: Bearer <token>`.
    func verify(bearer token: String, now: Date = Date()) throws(LoginFailure) {
        let expiry = tokens.withLock { $0[token] }
        guard let expiry else { throw LoginFailure(reason: "InvalidAccessToken", consumerKey: nil) }
        guard expiry > now else { throw LoginFailure(reason: "ExpiredAccessToken", consumerKey: nil) }
    }

    func expireAll() { tokens.withLock { $0.removeAll() } }

    var liveTokens: Int {
        let now = Date()
        return tokens.withLock { tokens in tokens.values.filter { $0 > now }.count }
    }

    /// The assertion's `iss` before verification, only to name the client in the login audit.
    private static func unverifiedIssuer(_ assertion: String) -> String? {
        try? DefaultJWTParser().parse(Array(assertion.utf8), as: ClientAssertion.self).payload.iss
    }
}

/// The claims of a client assertion; checked one by one so each failure has its own reason.
private struct ClientAssertion: JWTPayload {
    let iss: String?
    /// `rest_webservices`, `restlets`, `suite_analytics`: comma- or space-separated, or an array.
    let scope: JSONValue?
    let aud: AudienceClaim?
    let iat: IssuedAtClaim?
    let exp: ExpirationClaim?

    var scopes: Set<String> {
        switch scope {
        case .string(let text)?:
            Set(text.split(whereSeparator: { $0 == "," || $0 == " " }).map(String.init))
        case .array(let values)?:
            Set(values.compactMap(\.stringValue))
        default:
            []
        }
    }

    func verify(using algorithm: some JWTAlgorithm) async throws {}
}
