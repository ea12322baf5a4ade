import Foundation

/// How a command or event ended. Every command ends in exactly one result (DESIGN.md §3.5).
public enum SyncOutcome: String, Sendable, Codable {
    case created
    case updated
    /// The mapped content equals what was last applied; nothing was written.
    case unchanged
    /// Left out on purpose: a mapping filter, or an event older than the version already applied.
    case skipped
    case failed
}

/// The value of every message on `sync.results`.
public struct SyncResult: Sendable, Codable, Hashable {
    public var outcome: SyncOutcome
    /// The command's id; nil for results about an event that produced no command.
    public var commandID: String?
    public var connection: String?
    /// `salesforce` or `netsuite`.
    public var system: TargetSystem?
    /// The target object or record type.
    public var object: String?
    public var source: SourceDocument
    /// The record's id in the target system, when written.
    public var targetID: String?
    /// Write attempts made, retries included.
    public var attempts: Int
    /// Why a command was skipped (`filtered`, `stale_version`) or failed (the provider's error).
    public var reason: String?
    public var error: ProviderError?
    /// The service that produced the result.
    public var reporter: String
    public var time: String
    /// The connection's API budget when the writer reported the result (Salesforce).
    public var apiUsage: APIUsage?

    public init(
        outcome: SyncOutcome, commandID: String? = nil, connection: String? = nil, system: TargetSystem? = nil,
        object: String? = nil, source: SourceDocument, targetID: String? = nil, attempts: Int = 0,
        reason: String? = nil, error: ProviderError? = nil, reporter: String, time: Date = Date(), apiUsage: APIUsage? = nil
    ) {
        self.outcome = outcome
        self.commandID = commandID
        self.connection = connection
        self.system = system
        self.object = object
        self.source = source
        self.targetID = targetID
        self.attempts = attempts
        self.reason = reason
        self.error = error
        self.reporter = reporter
        self.time = time.formatted(.iso8601)
        self.apiUsage = apiUsage
    }

    enum CodingKeys: String, CodingKey {
        case outcome
        case commandID = "command_id"
        case connection, system, object, source
        case targetID = "target_id"
        case attempts, reason, error, reporter, time
        case apiUsage = "api_usage"
    }
}

/// A failure as the provider (or Crossbill, for mapping and parking failures) reported it.
public struct ProviderError: Sendable, Codable, Hashable, Error {
    /// The provider's code (`FIELD_CUSTOM_VALIDATION_EXCEPTION`, `USER_ERROR`), or Crossbill's
    /// (`invalid_mapping`, `parent_missing`, `retries_exhausted`).
    public var code: String
    public var message: String
    /// Salesforce: the fields the error is attached to.
    public var fields: [String]
    /// NetSuite: the path of the offending field (`o:errorPath`).
    public var path: String?
    /// HTTP status of the failed call, when there was one.
    public var httpStatus: Int?
    /// Whether a later replay could succeed without changing the data (outage, limits).
    public var retryable: Bool

    public init(code: String, message: String, fields: [String] = [], path: String? = nil, httpStatus: Int? = nil, retryable: Bool = false) {
        self.code = code
        self.message = message
        self.fields = fields
        self.path = path
        self.httpStatus = httpStatus
        self.retryable = retryable
    }

    enum CodingKeys: String, CodingKey {
        case code, message, fields, path
        case httpStatus = "http_status"
        case retryable
    }
}

/// A provider's API budget: requests used in its window (Salesforce: the rolling 24 hours) out of the
/// allocation.
public struct APIUsage: Sendable, Codable, Hashable {
    public var used: Int
    public var allocation: Int

    public init(used: Int, allocation: Int) {
        self.used = used
        self.allocation = allocation
    }
}
