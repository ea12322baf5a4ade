import Foundation
import SandboxCore

/// The Salesforce org the sandbox simulates: credentials, limits and faults. Every value has a
/// default that works with `make run`; the sandbox's configuration file overrides them.
public struct SalesforceSettings: Sendable, Codable {
    /// The connected app's consumer key and secret (client credentials and refresh token flows; the
    /// key is also the JWT bearer assertion's `iss`).
    public var clientId = "crossbill-sandbox-client"
    public var clientSecret = "crossbill-sandbox-secret"
    /// The integration user (the JWT bearer assertion's `sub`).
    public var username = "integration@crossbill.sandbox"
    /// Refresh tokens the org accepts.
    public var refreshTokens = ["crossbill-sandbox-refresh-token"]
    /// PEM file with the certificate or public key uploaded for the JWT bearer flow; without it the
    /// flow answers `invalid_grant`.
    public var jwtCertificateFile: String?
    /// Audiences a JWT bearer assertion may name.
    public var jwtAudiences = ["https://login.salesforce.com", "https://test.salesforce.com"]
    /// Access token lifetime (Salesforce's session timeout; 2 hours by default).
    public var sessionSeconds = 7200
    /// The rolling 24-hour API request allocation.
    public var dailyApiRequests = 100_000
    /// How long a write that creates a record takes to commit: two upserts of one new external ID
    /// inside this window make the second fail with DUPLICATE_VALUE, as in Salesforce.
    public var insertCommitMs = 5
    /// Default `batchSize` of query results (200–2000).
    public var queryBatchSize = 2000
    /// A schema file to use instead of the bundled one.
    public var schemaFile: String?
    public var faults = FaultSettings()

    public init() {}

    private enum CodingKeys: String, CodingKey, CaseIterable {
        case clientId, clientSecret, username, refreshTokens, jwtCertificateFile, jwtAudiences, sessionSeconds
        case dailyApiRequests, insertCommitMs, queryBatchSize, schemaFile, faults
    }

    public init(from decoder: any Decoder) throws {
        try StrictKeys.check(decoder, allowed: CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        clientId = try container.decodeIfPresent(String.self, forKey: .clientId) ?? clientId
        clientSecret = try container.decodeIfPresent(String.self, forKey: .clientSecret) ?? clientSecret
        username = try container.decodeIfPresent(String.self, forKey: .username) ?? username
        refreshTokens = try container.decodeIfPresent([String].self, forKey: .refreshTokens) ?? refreshTokens
        jwtCertificateFile = try container.decodeIfPresent(String.self, forKey: .jwtCertificateFile)
        jwtAudiences = try container.decodeIfPresent([String].self, forKey: .jwtAudiences) ?? jwtAudiences
        sessionSeconds = try container.decodeIfPresent(Int.self, forKey: .sessionSeconds) ?? sessionSeconds
        dailyApiRequests = try container.decodeIfPresent(Int.self, forKey: .dailyApiRequests) ?? dailyApiRequests
        insertCommitMs = try container.decodeIfPresent(Int.self, forKey: .insertCommitMs) ?? insertCommitMs
        queryBatchSize = try container.decodeIfPresent(Int.self, forKey: .queryBatchSize) ?? queryBatchSize
        schemaFile = try container.decodeIfPresent(String.self, forKey: .schemaFile)
        faults = try container.decodeIfPresent(FaultSettings.self, forKey: .faults) ?? faults
        var problems: [String] = []
        if sessionSeconds < 1 { problems.append("sessionSeconds must be at least 1") }
        if dailyApiRequests < 1 { problems.append("dailyApiRequests must be at least 1") }
        if insertCommitMs < 0 { problems.append("insertCommitMs cannot be negative") }
        if !(200...2000).contains(queryBatchSize) { problems.append("queryBatchSize must be between 200 and 2000") }
        guard problems.isEmpty else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: problems.joined(separator: "; ")))
        }
    }
}
