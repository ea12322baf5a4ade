import Contract
import CurlHTTP
import Foundation
import HTTPTypes
import Logging
import Metrics
import Synchronization

/// A client of one NetSuite account's REST record service (SuiteTalk REST web services).
///
/// - Every HTTP request, token requests included, holds one of `settings.concurrencyLimit` permits,
///   so no more requests are in flight at once; the others wait in line without blocking a thread.
/// - Requests are signed with token-based authentication (OAuth 1.0a, HMAC-SHA256) or carry an
///   OAuth 2.0 access token obtained with a client-credentials JWT assertion, cached until shortly
///   before it expires.
/// - Writes are idempotent upserts by external ID (`PUT …/eid:{externalId}`). The client never sends
///   `X-NetSuite-Idempotency-Key`: NetSuite ignores it on synchronous requests.
/// - Nothing is retried here except a request whose cached OAuth 2.0 token was refused (once, with a
///   new token); `NetSuiteCallError.transient` tells the caller when a retry is worth it.
/// - Logs never contain secrets: no Authorization header, token, key or assertion.
public final class NetSuiteClient: Sendable {
    static let recordServicePath = "/services/rest/record/v1"
    static let tokenPath = "/services/rest/auth/oauth2/v1/token"

    private enum Authenticator: Sendable {
        case tokenBased(TokenBasedSigner)
        case clientCredentials(ClientCredentialsTokens)
    }

    private struct Counts {
        var inFlight = 0
        var peakInFlight = 0
        var requests = 0
    }

    private let name: String
    /// `settings.baseURL` without a trailing `/`.
    private let baseURL: String
    private let requestTimeout: Duration
    private let http: CurlHTTPClient
    private let logger: Logger
    private let authenticator: Authenticator
    private let permits: AsyncSemaphore
    private let counts = Mutex(Counts())
    private let inFlightGauge: Gauge

    /// - Parameters:
    ///   - settings: the account and credentials; a `concurrencyLimit` below 1 counts as 1.
    ///   - http: the process's HTTP client, shared with other users.
    ///   - logger: gets `netsuite.connection` metadata; requests are logged at debug level.
    public init(settings: NetSuiteConnectionSettings, http: CurlHTTPClient, logger: Logger) {
        var baseURL = settings.baseURL
        while baseURL.hasSuffix("/") { baseURL.removeLast() }
        self.name = settings.name
        self.baseURL = baseURL
        self.requestTimeout = settings.requestTimeout
        self.http = http
        var logger = logger
        logger[metadataKey: "netsuite.connection"] = .string(settings.name)
        self.logger = logger
        self.permits = AsyncSemaphore(permits: max(1, settings.concurrencyLimit))
        self.inFlightGauge = Gauge(label: "netsuite_requests_in_flight", dimensions: [("connection", settings.name)])
        switch settings.authentication {
        case .tokenBased(let consumerKey, let consumerSecret, let tokenID, let tokenSecret):
            authenticator = .tokenBased(
                TokenBasedSigner(
                    consumerKey: consumerKey, consumerSecret: consumerSecret, tokenID: tokenID, tokenSecret: tokenSecret,
                    accountID: settings.accountID))
        case .clientCredentials(let clientID, let certificateID, let privateKeyPEM, let algorithm, let scopes):
            authenticator = .clientCredentials(
                ClientCredentialsTokens(
                    tokenURL: baseURL + Self.tokenPath, clientID: clientID, certificateID: certificateID, privateKeyPEM: privateKeyPEM,
                    algorithm: algorithm, scopes: scopes))
        }
    }

    // MARK: Record service

    /// PUT <base>/services/rest/record/v1/<recordType>/eid:<externalID>[?replace=a,b] with the JSON object body.
    /// Returns the record's internal id: from the Location header's last path segment, or, when the response has none, by reading the record (`internalID`).
    ///
    /// Creates the record when no record of the type has the external ID, else updates it: body fields
    /// left out stay as they are, and sublist lines are merged unless the sublist is named in
    /// `replaceSublists`, whose lines then replace all existing ones. Safe to repeat.
    ///
    /// NetSuite allows letters, digits, `_` and `-` in external IDs (a `|` breaks its URL parsing).
    /// Any other character is percent-encoded (UTF-8) in the URL rather than sent raw; NetSuite may
    /// still refuse such an ID.
    public func upsert(
        recordType: String, externalID: String, fields: [String: JSONValue], replaceSublists: [String]
    ) async throws(NetSuiteCallError) -> String {
        let path = Self.recordPath(recordType: recordType, externalID: externalID)
        let query = replaceSublists.isEmpty ? [] : [("replace", replaceSublists.joined(separator: ","))]
        let response = try await send(.put, path: path, query: query, body: Array(JSONValue.object(fields).encoded()))
        guard (200..<300).contains(response.status.code) else {
            throw NetSuiteErrors.callError(status: response.status.code, body: response.body)
        }
        if let location = response.headers[.location], let id = Self.internalID(fromLocation: location) {
            return id
        }
        // Whether an upsert answers with `Location` is not documented; a read by external ID tells.
        logger.debug(
            "NetSuite upsert answered without a usable Location; reading the record",
            metadata: ["netsuite.record_type": .string(recordType), "http.status": .stringConvertible(response.status.code)])
        guard let id = try await internalID(recordType: recordType, externalID: externalID) else {
            throw .transient(status: nil, message: "\(recordType) eid:\(externalID) was upserted but cannot be read back yet")
        }
        return id
    }

    /// GET <base>/services/rest/record/v1/<recordType>/eid:<externalID>?fields=id → the internal id; nil on 404 (record does not exist).
    ///
    /// External IDs are encoded in the URL as `upsert` describes.
    public func internalID(recordType: String, externalID: String) async throws(NetSuiteCallError) -> String? {
        let path = Self.recordPath(recordType: recordType, externalID: externalID)
        let response = try await send(.get, path: path, query: [("fields", "id")], body: nil)
        let status = response.status.code
        if status == 404 { return nil }
        guard (200..<300).contains(status) else {
            throw NetSuiteErrors.callError(status: status, body: response.body)
        }
        switch JSONValue.parse(response.body)?["id"] {
        case .string(let id)? where !id.isEmpty:
            return id
        case .number(let id)?:
            return "\(id)"
        default:
            throw .transient(status: status, message: "the record's answer has no id: \(NetSuiteErrors.excerpt(response.body))")
        }
    }

    /// The highest number of requests that were in flight at once since start (for tests and benchmarks).
    public var peakInFlightRequests: Int { counts.withLock { $0.peakInFlight } }

    /// HTTP requests sent since start, token requests included.
    public var requestCount: Int { counts.withLock { $0.requests } }

    // MARK: Paths

    /// The characters NetSuite documents as safe in an external ID; record type names are made of them too.
    private static let pathSafe = OAuthEncoding.KeptBytes("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")

    static func recordPath(recordType: String, externalID: String) -> String {
        let type = OAuthEncoding.percentEncode(recordType, keeping: pathSafe)
        return "\(recordServicePath)/\(type)/eid:\(OAuthEncoding.percentEncode(externalID, keeping: pathSafe))"
    }

    /// The internal ID at the end of a `Location` such as `https://…/record/v1/customer/647`; nil
    /// when the last segment is not a number (internal IDs are).
    static func internalID(fromLocation location: String) -> String? {
        let path = location.prefix { $0 != "?" && $0 != "#" }
        guard let last = path.split(separator: "/").last, !last.isEmpty, last.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            return nil
        }
        return String(last)
    }

    /// A query string in the form the URL carries: RFC 3986 encoding, with `,` left as is so lists
    /// read `replace=item,apply`. The signature covers the decoded values, so this choice is free.
    static func queryString(_ query: [(String, String)]) -> String {
        let kept = OAuthEncoding.KeptBytes("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~,")
        return query.map { "\(OAuthEncoding.percentEncode($0.0, keeping: kept))=\(OAuthEncoding.percentEncode($0.1, keeping: kept))" }
            .joined(separator: "&")
    }

    // MARK: Sending

    /// Sends an authenticated record-service request and returns the response, whatever its status.
    /// With OAuth 2.0, a 401 to a token taken from the cache gets one more try with a new token.
    private func send(
        _ method: HTTPRequest.Method, path: String, query: [(String, String)], body: [UInt8]?
    ) async throws(NetSuiteCallError) -> HTTPClientResponse {
        let url = baseURL + path + (query.isEmpty ? "" : "?" + Self.queryString(query))
        var headers: HTTPFields = [.accept: "application/json"]
        if body != nil { headers[.contentType] = "application/json" }

        switch authenticator {
        case .tokenBased(let signer):
            headers[.authorization] = signer.authorization(method: method.rawValue, baseURI: baseURL + path, query: query)
            return try await execute(HTTPClientRequest(method: method, url: url, headers: headers, body: body, timeout: requestTimeout))
        case .clientCredentials(let tokens):
            let transport: ClientCredentialsTokens.Transport = { form async throws(NetSuiteCallError) in
                try await self.requestToken(form: form, url: tokens.tokenURL)
            }
            var grant = try await tokens.grant(using: transport)
            headers[.authorization] = "Bearer \(grant.token)"
            let first = try await execute(HTTPClientRequest(method: method, url: url, headers: headers, body: body, timeout: requestTimeout))
            guard first.status.code == 401, !grant.isNew else { return first }
            logger.debug("NetSuite refused the cached access token; getting a new one")
            tokens.invalidate(grant.token)
            grant = try await tokens.grant(using: transport)
            headers[.authorization] = "Bearer \(grant.token)"
            return try await execute(HTTPClientRequest(method: method, url: url, headers: headers, body: body, timeout: requestTimeout))
        }
    }

    /// POSTs the client-credentials form to the token endpoint.
    private func requestToken(form: [(String, String)], url: String) async throws(NetSuiteCallError) -> (status: Int, body: [UInt8]) {
        let body = form.map { "\(OAuthEncoding.percentEncode($0.0))=\(OAuthEncoding.percentEncode($0.1))" }.joined(separator: "&")
        let headers: HTTPFields = [.contentType: "application/x-www-form-urlencoded", .accept: "application/json"]
        let response = try await execute(
            HTTPClientRequest(method: .post, url: url, headers: headers, body: Array(body.utf8), timeout: requestTimeout))
        return (response.status.code, response.body)
    }

    /// Sends one HTTP request holding a permit, and counts it.
    private func execute(_ request: HTTPClientRequest) async throws(NetSuiteCallError) -> HTTPClientResponse {
        do {
            try await permits.acquire()
        } catch {
            throw .transient(status: nil, message: "the request was cancelled while waiting for a free request slot")
        }
        started()
        defer {
            finished()
            permits.release()
        }
        let begin = ContinuousClock.now
        // The query is left out of logs; the path names the record.
        let path = request.url.dropFirst(baseURL.count).prefix { $0 != "?" }
        do {
            let response = try await http.execute(request)
            Counter(label: "netsuite_requests_total", dimensions: [("connection", name), ("status", String(response.status.code))]).increment()
            logger.debug(
                "NetSuite request",
                metadata: [
                    "http.method": .string(request.method.rawValue), "http.path": .string(String(path)),
                    "http.status": .stringConvertible(response.status.code), "duration": .stringConvertible(ContinuousClock.now - begin),
                ])
            return response
        } catch {
            Counter(label: "netsuite_requests_total", dimensions: [("connection", name), ("status", "error")]).increment()
            let failure = NetSuiteErrors.callError(error)
            logger.debug(
                "NetSuite request got no response",
                metadata: [
                    "http.method": .string(request.method.rawValue), "http.path": .string(String(path)),
                    "error": .string(failure.description), "duration": .stringConvertible(ContinuousClock.now - begin),
                ])
            throw failure
        }
    }

    private func started() {
        counts.withLock { counts in
            counts.inFlight += 1
            counts.requests += 1
            counts.peakInFlight = max(counts.peakInFlight, counts.inFlight)
            // Recorded under the lock so the gauge's last value is the current one.
            inFlightGauge.record(counts.inFlight)
        }
    }

    private func finished() {
        counts.withLock { counts in
            counts.inFlight -= 1
            inFlightGauge.record(counts.inFlight)
        }
    }
}
