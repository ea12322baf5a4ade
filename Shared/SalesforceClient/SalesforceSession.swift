import Contract
import CurlHTTP
import Foundation
import HTTPTypes
import JWTKit
import Logging
import Synchronization

/// An access token and the instance it is valid for. Never logged.
struct SalesforceAccessToken: Sendable, Equatable {
    let accessToken: String
    /// `instance_url` of the token response, without a trailing slash.
    let instanceURL: String
    /// Distinguishes tokens without comparing secrets in logs: increases with every token obtained.
    let generation: Int
}

/// Obtains access tokens from the org's token endpoint and keeps the current one. At most one token
/// request is in flight per session: concurrent callers share it.
final class SalesforceSession: Sendable {
    private enum State {
        case empty
        case valid(SalesforceAccessToken)
        case fetching(Task<Result<SalesforceAccessToken, SalesforceCallError>, Never>)
    }

    private struct Guarded {
        var state = State.empty
        var generation = 0
        var tokenRequests = 0
    }

    private let settings: SalesforceConnectionSettings
    private let http: CurlHTTPClient
    private let logger: Logger
    private let guarded = Mutex(Guarded())

    init(settings: SalesforceConnectionSettings, http: CurlHTTPClient, logger: Logger) {
        self.settings = settings
        self.http = http
        self.logger = logger
    }

    /// Token requests sent so far.
    var tokenRequestCount: Int { guarded.withLock { $0.tokenRequests } }

    /// The current token, or a new one when there is none; joins a token request already in flight.
    func token() async throws(SalesforceCallError) -> SalesforceAccessToken {
        let current: State = guarded.withLock { guarded in
            switch guarded.state {
            case .valid, .fetching:
                return guarded.state
            case .empty:
                guarded.tokenRequests += 1
                // The task cannot store its token before this closure releases the lock: it takes the
                // lock itself. It is not cancelled with the caller: other callers may be waiting for it.
                let task = Task { await self.fetchAndStore() }
                guarded.state = .fetching(task)
                return guarded.state
            }
        }
        switch current {
        case .valid(let token):
            return token
        case .fetching(let task):
            return try await task.value.get()
        case .empty:
            // Not returned by the switch above.
            throw .transient(status: nil, message: "No Salesforce access token could be requested")
        }
    }

    /// Forgets `token` after Salesforce called it invalid, unless another caller has already
    /// replaced it (or is replacing it): a stale 401 must not throw away a fresh token.
    func invalidate(_ token: SalesforceAccessToken) {
        let forgotten = guarded.withLock { guarded in
            guard case .valid(let current) = guarded.state, current.generation == token.generation else { return false }
            guarded.state = .empty
            return true
        }
        if forgotten {
            logger.debug(
                "salesforce session no longer valid; a new token will be requested",
                metadata: ["salesforce.token.generation": "\(token.generation)"])
        }
    }

    private func fetchAndStore() async -> Result<SalesforceAccessToken, SalesforceCallError> {
        let result: Result<(accessToken: String, instanceURL: String), SalesforceCallError>
        do throws(SalesforceCallError) {
            result = .success(try await requestToken())
        } catch {
            result = .failure(error)
        }
        return guarded.withLock { guarded in
            switch result {
            case .success(let answer):
                guarded.generation += 1
                let token = SalesforceAccessToken(accessToken: answer.accessToken, instanceURL: answer.instanceURL, generation: guarded.generation)
                guarded.state = .valid(token)
                return .success(token)
            case .failure(let error):
                // The next caller asks again.
                guarded.state = .empty
                return .failure(error)
            }
        }
    }

    // MARK: Token endpoint

    /// `POST <loginURL>/services/oauth2/token` with the configured grant.
    private func requestToken() async throws(SalesforceCallError) -> (accessToken: String, instanceURL: String) {
        let form = try await grantForm()
        let url = Self.trimmingTrailingSlashes(settings.loginURL) + "/services/oauth2/token"
        let request = HTTPClientRequest(
            method: .post, url: url,
            headers: [.contentType: "application/x-www-form-urlencoded", .accept: "application/json"],
            body: Array(PercentEncoding.form(form).utf8), timeout: settings.requestTimeout)
        logger.debug("requesting a salesforce access token", metadata: ["salesforce.grant": "\(grantName)", "salesforce.token.url": "\(url)"])

        let response: HTTPClientResponse
        do {
            response = try await http.execute(request)
        } catch {
            throw SalesforceClient.callError(transportFailure: error, what: "the token request")
        }
        let status = response.status.code
        let json = JSONValue.parse(response.body)
        if (200..<300).contains(status) {
            guard let accessToken = json?["access_token"]?.stringValue, !accessToken.isEmpty else {
                throw .authentication(
                    code: "invalid_token_response", message: "The token endpoint answered HTTP \(status) without an access_token")
            }
            guard let instance = json?["instance_url"]?.stringValue, instance.hasPrefix("https://") || instance.hasPrefix("http://") else {
                throw .authentication(
                    code: "invalid_token_response", message: "The token endpoint answered HTTP \(status) without a usable instance_url")
            }
            let instanceURL = Self.trimmingTrailingSlashes(instance)
            logger.debug(
                "obtained a salesforce access token", metadata: ["salesforce.grant": "\(grantName)", "salesforce.instance": "\(instanceURL)"])
            return (accessToken, instanceURL)
        }
        if status == 429 || status >= 500 {
            throw .transient(status: status, message: "The token endpoint answered HTTP \(status)")
        }
        // OAuth errors: {"error": "invalid_grant", "error_description": "..."}.
        let code = json?["error"]?.stringValue ?? "http_\(status)"
        let message = json?["error_description"]?.stringValue ?? "The token endpoint answered HTTP \(status)"
        logger.debug(
            "salesforce refused the token request",
            metadata: ["salesforce.grant": "\(grantName)", "salesforce.error": "\(code)", "http.status": "\(status)"])
        throw .authentication(code: code, message: message)
    }

    private var grantName: String {
        switch settings.grant {
        case .clientCredentials: "client_credentials"
        case .jwtBearer: "jwt_bearer"
        case .refreshToken: "refresh_token"
        }
    }

    private func grantForm() async throws(SalesforceCallError) -> [(String, String)] {
        switch settings.grant {
        case .clientCredentials(let clientID, let clientSecret):
            return [("grant_type", "client_credentials"), ("client_id", clientID), ("client_secret", clientSecret)]
        case .refreshToken(let clientID, let clientSecret, let refreshToken):
            var form = [("grant_type", "refresh_token"), ("refresh_token", refreshToken), ("client_id", clientID)]
            if let clientSecret { form.append(("client_secret", clientSecret)) }
            return form
        case .jwtBearer(let clientID, let username, let privateKeyPEM, let audience):
            let assertion = try await Self.assertion(
                clientID: clientID, username: username, privateKeyPEM: privateKeyPEM, audience: audience)
            return [("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"), ("assertion", assertion)]
        }
    }

    /// The JWT bearer assertion: RS256 (the only algorithm Salesforce accepts) over iss = consumer
    /// key, sub = username, aud = login host, exp = now + 3 minutes (Salesforce's limit).
    static func assertion(
        clientID: String, username: String, privateKeyPEM: String, audience: String, now: Date = Date()
    ) async throws(SalesforceCallError) -> String {
        let key: JWTKit.Insecure.RSA.PrivateKey
        do {
            key = try JWTKit.Insecure.RSA.PrivateKey(pem: privateKeyPEM)
        } catch {
            // The error text of a PEM parser could quote the key material: keep it out of the message.
            throw .authentication(code: "invalid_private_key", message: "The JWT bearer private key is not a readable RSA private key in PEM form")
        }
        // `exp` in whole seconds since the epoch, as Salesforce's examples show it (jwt-kit's default
        // writes fractional seconds).
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .integerSecondsSince1970
        let keys = await JWTKeyCollection().add(
            rsa: key, digestAlgorithm: .sha256, serializer: DefaultJWTSerializer(jsonEncoder: encoder))
        let claims = BearerAssertion(
            iss: IssuerClaim(value: clientID), sub: SubjectClaim(value: username), aud: AudienceClaim(value: audience),
            exp: ExpirationClaim(value: now.addingTimeInterval(180)))
        do {
            return try await keys.sign(claims)
        } catch {
            throw .authentication(code: "invalid_private_key", message: "Signing the JWT bearer assertion failed")
        }
    }

    static func trimmingTrailingSlashes(_ url: String) -> String {
        var url = Substring(url)
        while url.hasSuffix("/") { url = url.dropLast() }
        return String(url)
    }
}

/// The claims of a JWT bearer assertion.
struct BearerAssertion: JWTPayload {
    let iss: IssuerClaim
    let sub: SubjectClaim
    let aud: AudienceClaim
    let exp: ExpirationClaim

    /// Only Salesforce verifies the assertion.
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}
