import Contract
import Foundation
import JWTKit
import Synchronization

/// OAuth 2.0 client credentials (M2M) with a JWT assertion (reference B2): builds and signs the
/// assertion, and keeps the access token it gets until shortly before it expires. Only one token
/// request runs at a time; callers that need a token meanwhile wait for its outcome.
final class ClientCredentialsTokens: Sendable {
    /// The access token a request is sent with, and whether it was issued for that request (a 401
    /// with a token issued just now is not worth a second try).
    struct Grant: Sendable {
        let token: String
        let isNew: Bool
    }

    /// What the caller of `fetch` does: send the token request through the client (permit,
    /// metrics) and return the status and body.
    typealias Transport = @Sendable (_ form: [(String, String)]) async throws(NetSuiteCallError) -> (status: Int, body: [UInt8])

    private enum Key: Sendable {
        case ps256(JWTKit.Insecure.RSA.PrivateKey)
        case es256(ES256PrivateKey)
    }

    private struct CachedToken {
        let token: String
        /// When to stop using it (a margin before NetSuite's expiry).
        let renewAt: ContinuousClock.Instant
    }

    private struct State {
        var cached: CachedToken?
        var fetching = false
        /// Callers waiting for the running token request: nil when it was cancelled before it ended,
        /// so they try again themselves.
        var waiters: [CheckedContinuation<Result<String, NetSuiteCallError>?, Never>] = []
        var keys: JWTKeyCollection?
    }

    let tokenURL: String
    private let clientID: String
    private let certificateID: String
    private let scopes: [String]
    private let key: Result<Key, NetSuiteCallError>
    private let state = Mutex(State())

    /// The assertion's lifetime: well inside NetSuite's rule `exp < iat + 60 minutes`, with room for
    /// clock differences.
    static let assertionLifetime: TimeInterval = 30 * 60
    /// How long before `expires_in` runs out a token is no longer used.
    static let renewalMargin: Duration = .seconds(60)

    init(
        tokenURL: String, clientID: String, certificateID: String, privateKeyPEM: String,
        algorithm: NetSuiteConnectionSettings.AssertionAlgorithm, scopes: [String]
    ) {
        self.tokenURL = tokenURL
        self.clientID = clientID
        self.certificateID = certificateID
        self.scopes = scopes.isEmpty ? ["rest_webservices"] : scopes
        // The key is read once; an unreadable key fails every call with the reason (never the key).
        do {
            switch algorithm {
            case .ps256: key = .success(.ps256(try JWTKit.Insecure.RSA.PrivateKey(pem: privateKeyPEM)))
            case .es256: key = .success(.es256(try ES256PrivateKey(pem: privateKeyPEM)))
            }
        } catch {
            key = .failure(.authentication(message: "the \(algorithm.rawValue) private key cannot be read: \(type(of: error))"))
        }
    }

    /// A token to send: the cached one, the outcome of the token request already running, or a new one.
    func grant(using transport: Transport) async throws(NetSuiteCallError) -> Grant {
        while true {
            enum Step { case use(String), wait, fetch }
            let step = state.withLock { state -> Step in
                if let cached = state.cached, ContinuousClock.now < cached.renewAt { return .use(cached.token) }
                if state.fetching { return .wait }
                state.fetching = true
                return .fetch
            }
            switch step {
            case .use(let token):
                return Grant(token: token, isNew: false)
            case .wait:
                let outcome = await withCheckedContinuation { continuation in
                    // The fetch may have ended between the two looks; then its outcome is cached.
                    let waiting = state.withLock { state in
                        guard state.fetching else { return false }
                        state.waiters.append(continuation)
                        return true
                    }
                    if !waiting { continuation.resume(returning: nil) }
                }
                if let outcome { return Grant(token: try outcome.get(), isNew: true) }
            case .fetch:
                let outcome: Result<String, NetSuiteCallError>
                do throws(NetSuiteCallError) {
                    outcome = .success(try await fetch(using: transport))
                } catch {
                    outcome = .failure(error)
                }
                // A cancelled caller's failure is not the others' failure: they try again.
                var shared: Result<String, NetSuiteCallError>? = outcome
                if case .failure = outcome, Task.isCancelled { shared = nil }
                let waiters = state.withLock { state in
                    state.fetching = false
                    defer { state.waiters.removeAll() }
                    return state.waiters
                }
                for waiter in waiters { waiter.resume(returning: shared) }
                return Grant(token: try outcome.get(), isNew: true)
            }
        }
    }

    /// Forgets `token` after NetSuite refused it (it expired early, or its session was revoked).
    func invalidate(_ token: String) {
        state.withLock { state in
            if state.cached?.token == token { state.cached = nil }
        }
    }

    private func fetch(using transport: Transport) async throws(NetSuiteCallError) -> String {
        let assertion = try await signedAssertion()
        let form = [
            ("grant_type", "client_credentials"),
            ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
            ("client_assertion", assertion),
        ]
        let started = ContinuousClock.now
        let (status, body) = try await transport(form)
        let json = JSONValue.parse(body)
        guard (200..<300).contains(status) else {
            if status == 429 || status == 408 || status >= 500 {
                throw .transient(status: status, message: "the token endpoint answered \(status): \(NetSuiteErrors.excerpt(body))")
            }
            // RFC 6749 §5.2 errors (`invalid_grant`, `invalid_client`, …); a NetSuite-style body otherwise.
            let reason =
                if let error = json?["error"]?.stringValue {
                    error + (json?["error_description"]?.stringValue.map { ": \($0)" } ?? "")
                } else {
                    NetSuiteErrors.details(status: status, body: body).map { "\($0.code): \($0.detail)" }.joined(separator: "; ")
                }
            throw .authentication(message: "the token endpoint refused the client assertion (HTTP \(status)): \(reason)")
        }
        guard let token = json?["access_token"]?.stringValue, !token.isEmpty else {
            throw .transient(status: status, message: "the token endpoint's answer has no access_token")
        }
        // NetSuite gives `expires_in` as a string ("3600"); a number is accepted too.
        let lifetime: Int =
            switch json?["expires_in"] {
            case .string(let text)?: Int(text) ?? 3600
            case .number(let number)?: NSDecimalNumber(decimal: number).intValue
            default: 3600
            }
        let usable = Duration.seconds(lifetime)
        let margin = min(Self.renewalMargin, usable / 2)
        state.withLock { state in
            state.cached = CachedToken(token: token, renewAt: started + usable - margin)
        }
        return token
    }

    private struct AssertionClaims: JWTPayload {
        let iss: String
        let scope: String
        let aud: String
        let iat: IssuedAtClaim
        let exp: ExpirationClaim

        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    /// The client assertion: header `alg` PS256/ES256, `typ` JWT, `kid` = the certificate id; claims
    /// `iss` = client id, `scope`, `aud` = the token endpoint, `iat`, `exp`.
    private func signedAssertion() async throws(NetSuiteCallError) -> String {
        let keys = try await keyCollection()
        let now = Date()
        // Reference B2: scopes combine comma-separated (`restlets,rest_webservices`).
        let claims = AssertionClaims(
            iss: clientID, scope: scopes.joined(separator: ","), aud: tokenURL, iat: IssuedAtClaim(value: now),
            exp: ExpirationClaim(value: now.addingTimeInterval(Self.assertionLifetime)))
        var header = JWTHeader()
        header.typ = "JWT"
        do {
            return try await keys.sign(claims, kid: JWKIdentifier(string: certificateID), header: header)
        } catch {
            throw .authentication(message: "the client assertion cannot be signed: \(type(of: error))")
        }
    }

    private func keyCollection() async throws(NetSuiteCallError) -> JWTKeyCollection {
        if let keys = state.withLock({ $0.keys }) { return keys }
        let kid = JWKIdentifier(string: certificateID)
        let keys: JWTKeyCollection
        switch key {
        case .success(.ps256(let privateKey)):
            keys = await JWTKeyCollection().add(pss: privateKey, digestAlgorithm: .sha256, kid: kid)
        case .success(.es256(let privateKey)):
            keys = await JWTKeyCollection().add(ecdsa: privateKey, kid: kid)
        case .failure(let error):
            throw error
        }
        state.withLock { $0.keys = keys }
        return keys
    }
}
