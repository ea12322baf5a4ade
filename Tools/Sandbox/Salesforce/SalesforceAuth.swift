import Contract
import Crypto
import Foundation
import JWTKit
import SandboxCore
import Synchronization

/// The OAuth 2.0 token endpoint and the sessions it issues.
final class SalesforceAuth: Sendable {
    static let organizationId = "00D000000000001AAA"
    static let userId = "005000000000001AAA"

    /// A token answer: the JSON body and its status.
    struct TokenResponse {
        let status: Int
        let body: JSONValue
    }

    private let settings: SalesforceSettings
    private let jwtKeys: JWTKeyCollection?
    private let sessions = Mutex<[String: ContinuousClock.Instant]>([:])

    /// Reads the JWT bearer certificate, if one is configured.
    init(settings: SalesforceSettings) async throws {
        self.settings = settings
        guard let path = settings.jwtCertificateFile else {
            jwtKeys = nil
            return
        }
        let pem = try String(contentsOfFile: path, encoding: .utf8)
        let key = pem.contains("BEGIN CERTIFICATE")
            ? try Insecure.RSA.PublicKey(certificatePEM: pem) : try Insecure.RSA.PublicKey(pem: pem)
        // RS256 is the only algorithm Salesforce accepts for the assertion.
        jwtKeys = await JWTKeyCollection().add(rsa: key, digestAlgorithm: .sha256)
    }

    /// `POST /services/oauth2/token` with a form body.
    func token(form: [String: String], authorization: String?, instanceURL: String) async -> TokenResponse {
        switch form["grant_type"] {
        case "client_credentials":
            guard let (clientId, secret) = clientCredentials(form: form, authorization: authorization),
                clientId == settings.clientId, constantTimeEqual(secret, settings.clientSecret)
            else { return failure("invalid_client", "invalid client credentials") }
            return issue(instanceURL: instanceURL, withSignature: true)
        case "refresh_token":
            guard let (clientId, secret) = clientCredentials(form: form, authorization: authorization), clientId == settings.clientId else {
                return failure("invalid_client_id", "client identifier invalid")
            }
            guard constantTimeEqual(secret, settings.clientSecret) else { return failure("invalid_client", "invalid client credentials") }
            guard let token = form["refresh_token"], settings.refreshTokens.contains(token) else {
                return failure("invalid_grant", "expired access/refresh token")
            }
            return issue(instanceURL: instanceURL, withSignature: true)
        case "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return await jwtBearer(assertion: form["assertion"], instanceURL: instanceURL)
        case nil:
            return failure("unsupported_grant_type", "grant type not supported")
        default:
            return failure("unsupported_grant_type", "grant type not supported")
        }
    }

    /// Whether `Authorization: Bearer <token>` names a live session.
    func isValid(authorization: String?) -> Bool {
        guard let authorization, authorization.hasPrefix("Bearer ") || authorization.hasPrefix("OAuth ") else { return false }
        let token = String(authorization.drop { $0 != " " }.dropFirst())
        return sessions.withLock { sessions in
            guard let expiry = sessions[token] else { return false }
            if expiry <= .now {
                sessions[token] = nil
                return false
            }
            return true
        }
    }

    func expireAll() {
        sessions.withLock { $0.removeAll() }
    }

    var liveSessions: Int {
        sessions.withLock { sessions in sessions.values.filter { $0 > .now }.count }
    }

    private func jwtBearer(assertion: String?, instanceURL: String) async -> TokenResponse {
        guard let assertion, !assertion.isEmpty else { return failure("invalid_request", "assertion parameter is missing") }
        guard let jwtKeys else { return failure("invalid_grant", "user hasn't approved this consumer") }
        let claims: BearerAssertion
        do {
            claims = try await jwtKeys.verify(assertion, as: BearerAssertion.self)
        } catch {
            return failure("invalid_grant", "invalid assertion")
        }
        guard claims.iss == settings.clientId else { return failure("invalid_client_id", "client identifier invalid") }
        guard let audience = claims.aud, audience.value.contains(where: settings.jwtAudiences.contains) else {
            return failure("invalid_grant", "audience is invalid")
        }
        let now = Date()
        guard let expiry = claims.exp else { return failure("invalid_grant", "invalid assertion") }
        guard expiry.value > now else { return failure("invalid_grant", "expired authorization code") }
        // Salesforce wants an expiry within three minutes of now.
        guard expiry.value <= now.addingTimeInterval(180 + 5) else { return failure("invalid_grant", "invalid assertion") }
        // `prn` is the old name of `sub` and wins when both are present.
        guard (claims.prn ?? claims.sub) == settings.username else {
            return failure("invalid_grant", "user hasn't approved this consumer")
        }
        return issue(instanceURL: instanceURL, withSignature: false)
    }

    private func issue(instanceURL: String, withSignature: Bool) -> TokenResponse {
        let token = "\(Self.organizationId)!" + Data(SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) })
            .base64EncodedString().replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "+", with: "-")
        sessions.withLock { $0[token] = .now + .seconds(settings.sessionSeconds) }
        let identity = "https://login.salesforce.com/id/\(Self.organizationId)/\(Self.userId)"
        var body: [String: JSONValue] = [
            "access_token": .string(token),
            "instance_url": .string(instanceURL),
            "id": .string(identity),
            "token_type": "Bearer",
            "scope": "api",
        ]
        if withSignature {
            // issued_at is milliseconds as a string; signature is HMAC-SHA256(id + issued_at) keyed by the secret.
            let issuedAt = String(Int64(Date().timeIntervalSince1970 * 1000))
            let mac = HMAC<SHA256>.authenticationCode(
                for: Data((identity + issuedAt).utf8), using: SymmetricKey(data: Data(settings.clientSecret.utf8)))
            body["issued_at"] = .string(issuedAt)
            body["signature"] = .string(Data(mac).base64EncodedString())
        }
        return TokenResponse(status: 200, body: .object(body))
    }

    private func failure(_ error: String, _ description: String) -> TokenResponse {
        TokenResponse(status: 400, body: ["error": .string(error), "error_description": .string(description)])
    }

    /// Client id and secret from the form or from HTTP Basic authentication.
    private func clientCredentials(form: [String: String], authorization: String?) -> (String, String)? {
        if let authorization, authorization.hasPrefix("Basic "),
            let decoded = Data(base64Encoded: String(authorization.dropFirst(6))).map({ String(decoding: $0, as: UTF8.self) }),
            let colon = decoded.firstIndex(of: ":")
        {
            return (String(decoded[..<colon]), String(decoded[decoded.index(after: colon)...]))
        }
        guard let id = form["client_id"] else { return nil }
        return (id, form["client_secret"] ?? "")
    }

    private func constantTimeEqual(_ lhs: String, _ rhs: String) -> Bool {
        let left = SHA256.hash(data: Data(lhs.utf8))
        let right = SHA256.hash(data: Data(rhs.utf8))
        return zip(left, right).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }
}

/// The claims of a JWT bearer assertion; checked one by one for Salesforce's specific errors.
private struct BearerAssertion: JWTPayload {
    let iss: String?
    let sub: String?
    let prn: String?
    let aud: AudienceClaim?
    let exp: ExpirationClaim?

    func verify(using algorithm: some JWTAlgorithm) async throws {}
}
