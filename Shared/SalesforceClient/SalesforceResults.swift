import Contract

/// The org's daily API request usage, from the `Sforce-Limit-Info: api-usage=<used>/<max>` header
/// Salesforce puts on REST responses. Salesforce computes it asynchronously, so it can lag slightly.
public struct SalesforceAPIUsage: Sendable, Hashable {
    /// Requests counted in the rolling 24 hours.
    public let used: Int
    /// The org's allocation for the rolling 24 hours.
    public let maximum: Int

    public init(used: Int, maximum: Int) {
        self.used = used
        self.maximum = maximum
    }

    /// `used / maximum`: 1 or more when the allocation is spent; 0 when the maximum is 0.
    public var share: Double {
        maximum > 0 ? Double(used) / Double(maximum) : 0
    }

    /// Reads the `api-usage` entry of a `Sforce-Limit-Info` value. The header may carry other
    /// comma-separated entries too (`per-app-api-usage=17/250(appName=...)`); they are skipped.
    init?(limitInfo header: String) {
        for entry in header.split(separator: ",") {
            let entry = entry.trimmingWhitespace()
            guard entry.hasPrefix("api-usage=") else { continue }
            let numbers = entry.dropFirst("api-usage=".count).split(separator: "/", maxSplits: 1)
            guard numbers.count == 2, let used = Int(numbers[0].trimmingWhitespace()), let maximum = Int(numbers[1].trimmingWhitespace()),
                used >= 0, maximum >= 0
            else { return nil }
            self.init(used: used, maximum: maximum)
            return
        }
        return nil
    }
}

/// One sObject Collections write of a composite call: records of one object, upserted on
/// `externalIDField`, or updated by their `Id` when it is nil.
public struct SalesforceCollectionWrite: Sendable {
    public var object: String
    public var externalIDField: String?
    /// At most 200.
    public var records: [[String: JSONValue]]

    public init(object: String, externalIDField: String?, records: [[String: JSONValue]]) {
        self.object = object
        self.externalIDField = externalIDField
        self.records = records
    }
}

/// The outcome of one record of an sObject Collections call (a SaveResult, or an UpsertResult
/// with `created`).
public struct SalesforceRecordResult: Sendable, Hashable {
    /// The record's Id; nil when the record failed.
    public let id: String?
    public let success: Bool
    /// Upsert only: true when the record was created, false when an existing one was updated.
    public let created: Bool?
    /// Why the record failed; empty on success.
    public let errors: [SalesforceRecordError]

    public init(id: String?, success: Bool, created: Bool?, errors: [SalesforceRecordError]) {
        self.id = id
        self.success = success
        self.created = created
        self.errors = errors
    }
}

/// One error Salesforce reports, either for a record of a collections call (`statusCode`) or for a
/// whole call (`errorCode` in Salesforce's body; kept here as `statusCode` too).
public struct SalesforceRecordError: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Salesforce's code, e.g. `REQUIRED_FIELD_MISSING` or `FIELD_CUSTOM_VALIDATION_EXCEPTION`.
    public let statusCode: String
    public let message: String
    /// The fields the error is about; often empty.
    public let fields: [String]

    public init(statusCode: String, message: String, fields: [String] = []) {
        self.statusCode = statusCode
        self.message = message
        self.fields = fields
    }

    private enum CodingKeys: String, CodingKey {
        case statusCode, errorCode, message, fields
    }

    /// Accepts both shapes: collections' `statusCode` and single-record calls' `errorCode`;
    /// `fields` may be missing.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let code = try container.decodeIfPresent(String.self, forKey: .statusCode) ?? container.decodeIfPresent(String.self, forKey: .errorCode)
        statusCode = code ?? "UNKNOWN_EXCEPTION"
        message = try container.decodeIfPresent(String.self, forKey: .message) ?? ""
        fields = try container.decodeIfPresent([String].self, forKey: .fields) ?? []
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(statusCode, forKey: .statusCode)
        try container.encode(message, forKey: .message)
        try container.encode(fields, forKey: .fields)
    }

    public var description: String {
        fields.isEmpty ? "\(statusCode): \(message)" : "\(statusCode): \(message) (fields: \(fields.joined(separator: ", ")))"
    }
}

/// Why a whole call to Salesforce failed. Per-record failures of collections calls are not
/// errors: they come back in `SalesforceRecordResult.errors`.
public enum SalesforceCallError: Error, Sendable, CustomStringConvertible {
    /// The token endpoint refused the credentials (its `error` and `error_description`), or the
    /// session stays invalid after one new token. Not retryable.
    case authentication(code: String, message: String)
    /// 403 `REQUEST_LIMIT_EXCEEDED`: the org's daily `TotalRequests` allocation is spent, or too many
    /// long-running requests are in flight (`ConcurrentPerOrgLongTxn`). The caller pauses the connection.
    case requestLimitExceeded(message: String)
    /// Worth retrying later: HTTP 429, 5xx, timeouts and dropped connections (`CurlHTTPError.isRetryable`),
    /// the HTTP client shutting down or the call being cancelled, `UNABLE_TO_LOCK_ROW` on the whole call.
    /// `status` is nil when no HTTP response came. A write that failed this way may have been applied.
    case transient(status: Int?, message: String)
    /// Any other refusal of the whole call: a 4xx with Salesforce's `[{errorCode, message, fields}]`
    /// body, or a response that cannot be understood. `status` is 0 when no status was received: a TLS
    /// failure, a response too large for the HTTP client, or another non-retryable HTTP client error
    /// (e.g. a malformed URL), each described by one error.
    case rejected(status: Int, errors: [SalesforceRecordError])

    public var description: String {
        switch self {
        case .authentication(let code, let message):
            return "Salesforce authentication failed (\(code)): \(message)"
        case .requestLimitExceeded(let message):
            return "Salesforce request limit exceeded: \(message)"
        case .transient(let status?, let message):
            return "Salesforce call failed with HTTP \(status), worth retrying later: \(message)"
        case .transient(nil, let message):
            return "Salesforce call failed without a response, worth retrying later: \(message)"
        case .rejected(let status, let errors):
            let detail = errors.isEmpty ? "no error details" : errors.map(\.description).joined(separator: "; ")
            return status == 0 ? "Salesforce call failed: \(detail)" : "Salesforce refused the call with HTTP \(status): \(detail)"
        }
    }
}

extension Substring {
    func trimmingWhitespace() -> Substring {
        var text = self
        while let first = text.first, first.isWhitespace { text.removeFirst() }
        while let last = text.last, last.isWhitespace { text.removeLast() }
        return text
    }
}
