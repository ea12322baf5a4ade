import Contract
import CurlHTTP
import Foundation
import HTTPTypes
import Logging
import Metrics
import Synchronization

/// A client of one Salesforce org's REST API: sObject Collections upsert and update, alone or several
/// in one composite call, and SOQL queries, with OAuth tokens obtained and renewed behind the scenes.
///
/// Tokens: one token request at a time, shared by every concurrent caller. A call answered 401
/// (`INVALID_SESSION_ID`) gets a new token and is sent once more; a second 401 is an
/// `.authentication` error.
///
/// Metrics: `salesforce_api_requests_used` and `salesforce_api_requests_max` (gauges, from the
/// `Sforce-Limit-Info` header) and `salesforce_api_calls_total` (counter by operation), all with a
/// `connection` dimension.
public final class SalesforceClient: Sendable {
    private let settings: SalesforceConnectionSettings
    private let http: CurlHTTPClient
    private let logger: Logger
    private let session: SalesforceSession
    private let observed = Mutex(Observed())
    private let metrics: ClientMetrics

    private struct Observed {
        var apiUsage: SalesforceAPIUsage?
        var restCalls = 0
    }

    /// The REST operations, as the `operation` dimension of `salesforce_api_calls_total` names them.
    enum Operation: String, CaseIterable {
        case upsert, update, composite, query
    }

    /// sObject Collections subrequests one composite call may carry.
    public static let maximumWritesPerComposite = 5

    public init(settings: SalesforceConnectionSettings, http: CurlHTTPClient, logger: Logger) {
        var logger = logger
        logger[metadataKey: "salesforce.connection"] = "\(settings.name)"
        self.settings = settings
        self.http = http
        self.logger = logger
        self.session = SalesforceSession(settings: settings, http: http, logger: logger)
        self.metrics = ClientMetrics(connection: settings.name)
    }

    /// The latest `Sforce-Limit-Info: api-usage=<used>/<max>` seen; nil before the first REST response.
    public var apiUsage: SalesforceAPIUsage? {
        observed.withLock { $0.apiUsage }
    }

    /// HTTP calls made to the REST API since the client was made (token requests excluded; a call
    /// sent again after a new token counts twice).
    public var restCallCount: Int {
        observed.withLock { $0.restCalls }
    }

    /// Token requests sent to the token endpoint since the client was made.
    var tokenRequestCount: Int { session.tokenRequestCount }

    private var dataPath: String { "/services/data/v\(settings.apiVersion)" }

    // MARK: Operations

    /// sObject Collections upsert: `PATCH <instance>/services/data/v<ver>/composite/sobjects/<object>/<externalIDField>`
    /// with `{"allOrNone": false, "records": [{"attributes": {"type": object}, ...fields}]}`. Each record
    /// must carry its external ID field and no `Id`. At most 200 records (a precondition).
    ///
    /// Returns one result per record, in order: `created` tells whether the record was inserted.
    /// Records that fail come back with `success == false` and their errors; only a failure of the
    /// whole call throws.
    public func upsert(object: String, externalIDField: String, records: [[String: JSONValue]]) async throws(SalesforceCallError)
        -> [SalesforceRecordResult]
    {
        precondition(records.count <= 200, "sObject Collections take at most 200 records per call, not \(records.count)")
        guard !records.isEmpty else { return [] }
        let path = "\(dataPath)/composite/sobjects/\(PercentEncoding.encode(object))/\(PercentEncoding.encode(externalIDField))"
        return try await collection(.upsert, path: path, object: object, records: records)
    }

    /// sObject Collections update: `PATCH <instance>/services/data/v<ver>/composite/sobjects`, each
    /// record carrying its `Id`; `allOrNone` false. At most 200 records (a precondition).
    /// Returns one result per record, in order.
    public func update(object: String, records: [[String: JSONValue]]) async throws(SalesforceCallError) -> [SalesforceRecordResult] {
        precondition(records.count <= 200, "sObject Collections take at most 200 records per call, not \(records.count)")
        guard !records.isEmpty else { return [] }
        return try await collection(.update, path: "\(dataPath)/composite/sobjects", object: object, records: records)
    }

    /// Runs a SOQL query: `GET <instance>/services/data/v<ver>/query?q=<SOQL>`, then each
    /// `nextRecordsUrl` until `done`. Returns every record, without its `attributes` (nor those of
    /// the parent records it nests).
    public func query(_ soql: String) async throws(SalesforceCallError) -> [[String: JSONValue]] {
        var records: [[String: JSONValue]] = []
        var path = "\(dataPath)/query?q=\(PercentEncoding.encode(soql))"
        var pages = 0
        while true {
            let (status, body) = try await call(.query, method: .get, path: path, body: nil)
            pages += 1
            guard let page = body?.objectValue, let pageRecords = page["records"]?.arrayValue else {
                throw Self.unexpected(status: status, "a query answer without a records array")
            }
            for record in pageRecords {
                guard let fields = record.objectValue else {
                    throw Self.unexpected(status: status, "a query record that is not an object")
                }
                records.append(Self.removingAttributes(fields))
            }
            // `done` is documented as always present; a missing one is read as the last page.
            guard page["done"]?.boolValue == false else { break }
            guard let next = page["nextRecordsUrl"]?.stringValue, !next.isEmpty else {
                throw Self.unexpected(status: status, "a query page with done=false but no nextRecordsUrl")
            }
            path = next
        }
        logger.debug("salesforce query done", metadata: ["salesforce.records": "\(records.count)", "salesforce.pages": "\(pages)"])
        return records
    }

    /// Several collections writes in one round trip: `POST <instance>/services/data/v<ver>/composite`
    /// with one sObject Collections subrequest per write (at most `maximumWritesPerComposite`, a
    /// precondition), `allOrNone` false. Salesforce runs the subrequests in order, so a record written by
    /// one exists for the external-ID references of the next, and the call counts once against the
    /// org's API allocation. A single write is sent as a plain collections call.
    ///
    /// Returns each write's outcome in order: its per-record results, or the error of a subrequest
    /// Salesforce refused. Only a failure of the whole call throws.
    public func write(_ writes: [SalesforceCollectionWrite]) async throws(SalesforceCallError)
        -> [Result<[SalesforceRecordResult], SalesforceCallError>]
    {
        precondition(writes.count <= Self.maximumWritesPerComposite, "a composite call takes at most \(Self.maximumWritesPerComposite) collections, not \(writes.count)")
        if writes.count == 1, let only = writes.first {
            let results = if let field = only.externalIDField {
                try await upsert(object: only.object, externalIDField: field, records: only.records)
            } else {
                try await update(object: only.object, records: only.records)
            }
            return [.success(results)]
        }
        guard !writes.isEmpty else { return [] }
        let subrequests: [JSONValue] = writes.enumerated().map { index, write in
            precondition(write.records.count <= 200, "sObject Collections take at most 200 records per call, not \(write.records.count)")
            return [
                "method": "PATCH", "url": .string(collectionPath(write)), "referenceId": .string("write\(index)"),
                "body": collectionBody(object: write.object, records: write.records),
            ]
        }
        let (status, answer) = try await call(
            .composite, method: .post, path: "\(dataPath)/composite", body: ["allOrNone": false, "compositeRequest": .array(subrequests)])
        guard let responses = answer?["compositeResponse"]?.arrayValue, responses.count == writes.count else {
            throw Self.unexpected(status: status, "a composite answer without one compositeResponse entry per subrequest")
        }
        return zip(writes, responses).map { write, response in
            let subStatus = response["httpStatusCode"]?.numberValue.map { Int(truncating: $0 as NSNumber) } ?? 0
            guard (200..<300).contains(subStatus) else {
                return .failure(Self.classify(status: subStatus, errors: Self.errors(in: response["body"], status: subStatus, text: "")))
            }
            do throws(SalesforceCallError) {
                return .success(try Self.recordResults(response["body"], count: write.records.count, status: subStatus))
            } catch {
                return .failure(error)
            }
        }
    }

    private func collectionPath(_ write: SalesforceCollectionWrite) -> String {
        guard let field = write.externalIDField else { return "\(dataPath)/composite/sobjects" }
        return "\(dataPath)/composite/sobjects/\(PercentEncoding.encode(write.object))/\(PercentEncoding.encode(field))"
    }

    // MARK: Collections

    private func collection(_ operation: Operation, path: String, object: String, records: [[String: JSONValue]]) async throws(SalesforceCallError)
        -> [SalesforceRecordResult]
    {
        let (status, answer) = try await call(operation, method: .patch, path: path, body: collectionBody(object: object, records: records))
        let parsed = try Self.recordResults(answer, count: records.count, status: status)
        logger.debug(
            "salesforce collections call done",
            metadata: ["salesforce.operation": "\(operation.rawValue)", "salesforce.object": "\(object)", "salesforce.records": "\(records.count)",
                       "salesforce.failed": "\(parsed.count { !$0.success })"])
        return parsed
    }

    /// `{"allOrNone": false, "records": [{"attributes": {"type": object}, ...fields}]}`
    private func collectionBody(object: String, records: [[String: JSONValue]]) -> JSONValue {
        let typed: [JSONValue] = records.map { fields in
            var fields = fields
            fields["attributes"] = ["type": .string(object)]
            return .object(fields)
        }
        return ["allOrNone": false, "records": .array(typed)]
    }

    /// The per-record results of a collections answer, one per record sent.
    static func recordResults(_ answer: JSONValue?, count: Int, status: Int) throws(SalesforceCallError) -> [SalesforceRecordResult] {
        guard let results = answer?.arrayValue else {
            throw unexpected(status: status, "a collections answer that is not an array of results")
        }
        guard results.count == count else {
            throw unexpected(status: status, "\(results.count) results for \(count) records")
        }
        var parsed: [SalesforceRecordResult] = []
        parsed.reserveCapacity(results.count)
        for result in results {
            guard let result = recordResult(result) else {
                throw unexpected(status: status, "a collections result without success")
            }
            parsed.append(result)
        }
        return parsed
    }

    /// A SaveResult or UpsertResult: `{"id", "success", "errors": [{"statusCode", "message", "fields"}], "created"}`.
    static func recordResult(_ json: JSONValue) -> SalesforceRecordResult? {
        guard let success = json["success"]?.boolValue else { return nil }
        let errors = (json["errors"]?.arrayValue ?? []).map(recordError)
        return SalesforceRecordResult(id: json["id"]?.stringValue, success: success, created: json["created"]?.boolValue, errors: errors)
    }

    /// Reads either error shape: `statusCode` (collections) or `errorCode` (single-record and whole-call errors).
    static func recordError(_ json: JSONValue) -> SalesforceRecordError {
        SalesforceRecordError(
            statusCode: json["statusCode"]?.stringValue ?? json["errorCode"]?.stringValue ?? "UNKNOWN_EXCEPTION",
            message: json["message"]?.stringValue ?? "",
            fields: json["fields"]?.arrayValue?.compactMap(\.stringValue) ?? [])
    }

    /// The fields of a query record without `attributes`, also removed from nested parent records.
    static func removingAttributes(_ record: [String: JSONValue]) -> [String: JSONValue] {
        var record = record
        record["attributes"] = nil
        for (name, value) in record {
            if let nested = value.objectValue, nested["attributes"]?["type"] != nil {
                record[name] = .object(removingAttributes(nested))
            }
        }
        return record
    }

    // MARK: HTTP

    /// Sends one REST call with the current token; on a 401, once more with a new token. Returns the
    /// status and parsed body of a 2xx answer; throws for every other outcome.
    private func call(
        _ operation: Operation, method: HTTPRequest.Method, path: String, body: JSONValue?
    ) async throws(SalesforceCallError) -> (status: Int, body: JSONValue?) {
        let encodedBody = body.map { Array($0.encoded()) }
        var attempt = 1
        while true {
            let token = try await session.token()
            let url = Self.url(path, instanceURL: token.instanceURL)
            let response = try await send(operation, method: method, url: url, body: encodedBody, token: token)
            let status = response.status.code
            let json = response.body.isEmpty ? nil : JSONValue.parse(response.body)
            if (200..<300).contains(status) {
                guard response.body.isEmpty || json != nil else {
                    throw Self.unexpected(status: status, "a response body that is not JSON")
                }
                return (status, json)
            }
            let errors = Self.errors(in: json, status: status, text: response.bodyText)
            if status == 401 {
                // Expired or revoked session (INVALID_SESSION_ID): a new token, then one more try.
                session.invalidate(token)
                guard attempt < 2 else {
                    let first = errors.first
                    throw .authentication(
                        code: first?.statusCode ?? "INVALID_SESSION_ID",
                        message: "The session stayed invalid after a new token: \(first?.message ?? "HTTP 401")")
                }
                attempt += 1
                logger.debug(
                    "salesforce session invalid; retrying with a new token", metadata: ["salesforce.operation": "\(operation.rawValue)"])
                continue
            }
            throw Self.classify(status: status, errors: errors)
        }
    }

    private func send(
        _ operation: Operation, method: HTTPRequest.Method, url: String, body: [UInt8]?, token: SalesforceAccessToken
    ) async throws(SalesforceCallError) -> HTTPClientResponse {
        var headers: HTTPFields = [.authorization: "Bearer \(token.accessToken)", .accept: "application/json"]
        if body != nil { headers[.contentType] = "application/json" }
        let request = HTTPClientRequest(method: method, url: url, headers: headers, body: body, timeout: settings.requestTimeout)
        observed.withLock { $0.restCalls += 1 }
        metrics.calls[operation]?.increment()
        let response: HTTPClientResponse
        do {
            response = try await http.execute(request)
        } catch {
            logger.debug("salesforce call got no response", metadata: ["salesforce.operation": "\(operation.rawValue)", "error": "\(error)"])
            throw Self.callError(transportFailure: error, what: "the \(operation.rawValue) call")
        }
        recordLimitInfo(response.headers)
        logger.debug(
            "salesforce call answered",
            metadata: [
                "salesforce.operation": "\(operation.rawValue)", "http.method": "\(method.rawValue)",
                "http.status": "\(response.status.code)",
            ])
        return response
    }

    /// Keeps the `api-usage` of a `Sforce-Limit-Info` header and updates the gauges.
    private func recordLimitInfo(_ headers: HTTPFields) {
        guard let field = headers.first(where: { $0.name.canonicalName == "sforce-limit-info" }),
            let usage = SalesforceAPIUsage(limitInfo: field.value)
        else { return }
        observed.withLock { $0.apiUsage = usage }
        metrics.used.record(usage.used)
        metrics.maximum.record(usage.maximum)
    }

    /// `path` on the instance: a path (`/services/data/...`, as in `nextRecordsUrl`) or an absolute URL.
    static func url(_ path: String, instanceURL: String) -> String {
        if path.hasPrefix("https://") || path.hasPrefix("http://") { return path }
        return instanceURL + (path.hasPrefix("/") ? path : "/" + path)
    }

    // MARK: Errors

    /// The errors of a refused call: Salesforce's `[{"errorCode", "message", "fields"}]` body, or one
    /// made-up error describing an answer in another shape.
    static func errors(in json: JSONValue?, status: Int, text: String) -> [SalesforceRecordError] {
        if let array = json?.arrayValue, !array.isEmpty, array.allSatisfy({ $0.objectValue != nil }) {
            return array.map(recordError)
        }
        if let object = json?.objectValue, object["errorCode"] != nil || object["statusCode"] != nil {
            return [recordError(.object(object))]
        }
        let excerpt = text.count > 200 ? text.prefix(200) + "…" : Substring(text)
        let message = excerpt.isEmpty ? "HTTP \(status) without a body" : "HTTP \(status): \(excerpt)"
        return [SalesforceRecordError(statusCode: "UNEXPECTED_RESPONSE", message: message)]
    }

    /// A non-2xx, non-401 answer as a call error.
    static func classify(status: Int, errors: [SalesforceRecordError]) -> SalesforceCallError {
        let message = errors.map(\.description).joined(separator: "; ")
        if status == 403, let limit = errors.first(where: { $0.statusCode == "REQUEST_LIMIT_EXCEEDED" }) {
            return .requestLimitExceeded(message: limit.message)
        }
        if status == 429 || status >= 500 {
            return .transient(status: status, message: message)
        }
        if errors.contains(where: { $0.statusCode == "UNABLE_TO_LOCK_ROW" }) {
            return .transient(status: status, message: message)
        }
        return .rejected(status: status, errors: errors)
    }

    /// A 2xx answer the client cannot read.
    static func unexpected(status: Int, _ what: String) -> SalesforceCallError {
        .rejected(status: status, errors: [SalesforceRecordError(statusCode: "UNEXPECTED_RESPONSE", message: "Salesforce sent \(what)")])
    }

    /// A request that got no HTTP response. Timeouts and broken connections (`CurlHTTPError.isRetryable`;
    /// a write may have been applied), the HTTP client shutting down and cancellation are worth retrying.
    /// A TLS failure, an oversized answer or another libcurl error (a malformed URL, an unsupported
    /// scheme) will fail the same way next time: `.rejected` with status 0.
    static func callError(transportFailure error: any Error, what: String) -> SalesforceCallError {
        if let error = error as? CurlHTTPError {
            switch error.kind {
            case .timeout:
                return .transient(status: nil, message: "No answer to \(what) in time: \(error.message)")
            case .connection:
                return .transient(status: nil, message: "The connection failed during \(what): \(error.message)")
            case .shutdown:
                return .transient(status: nil, message: "The HTTP client was shut down during \(what)")
            case .tls:
                return .rejected(status: 0, errors: [.init(statusCode: "TLS_FAILURE", message: "TLS failed during \(what): \(error.message)")])
            case .responseTooLarge:
                let message = "The answer to \(what) was too large: \(error.message)"
                return .rejected(status: 0, errors: [.init(statusCode: "RESPONSE_TOO_LARGE", message: message)])
            case .other:
                let message = "The HTTP client failed during \(what): \(error.message)"
                return .rejected(status: 0, errors: [.init(statusCode: "HTTP_CLIENT_ERROR", message: message)])
            }
        }
        if error is CancellationError {
            return .transient(status: nil, message: "\(what.prefix(1).uppercased() + what.dropFirst()) was cancelled")
        }
        return .transient(status: nil, message: "The HTTP client failed during \(what): \(error)")
    }
}

/// Metric handles made once per client.
private struct ClientMetrics: Sendable {
    let used: Gauge
    let maximum: Gauge
    let calls: [SalesforceClient.Operation: Counter]

    init(connection: String) {
        used = Gauge(label: "salesforce_api_requests_used", dimensions: [("connection", connection)])
        maximum = Gauge(label: "salesforce_api_requests_max", dimensions: [("connection", connection)])
        calls = Dictionary(
            uniqueKeysWithValues: SalesforceClient.Operation.allCases.map { operation in
                (operation, Counter(label: "salesforce_api_calls_total", dimensions: [("connection", connection), ("operation", operation.rawValue)]))
            })
    }
}
