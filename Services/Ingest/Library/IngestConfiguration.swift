import Configuration
import Foundation
import ServiceRuntime

/// A billing organization whose webhooks ingest accepts, with the keys that verify them.
public struct OrganizationSettings: Sendable {
    /// The name in the webhook URL: `POST /webhooks/lago/<name>`.
    public var name: String
    /// Lago's organization id; when set, webhooks must carry it as `organization_id`.
    public var id: String?
    /// The organization's HMAC key ("HMAC Signature Token" in Lago), for `X-Lago-Signature-Algorithm: hmac`.
    public var hmacKey: String?
    /// PEM of the billing instance's RSA public key (plain, or base64 as Lago's API serves it), for `jwt`.
    public var jwtPublicKeyPEM: String?
    /// The expected `iss` claim of JWT signatures: Lago's `LAGO_API_URL`.
    public var jwtIssuer: String?

    public init(name: String, id: String? = nil, hmacKey: String? = nil, jwtPublicKeyPEM: String? = nil, jwtIssuer: String? = nil) {
        self.name = name
        self.id = id
        self.hmacKey = hmacKey
        self.jwtPublicKeyPEM = jwtPublicKeyPEM
        self.jwtIssuer = jwtIssuer
    }
}

/// Settings of the ingest service.
public struct IngestConfiguration: Sendable {
    public var organizations: [OrganizationSettings]
    /// Larger bodies get 413.
    public var maximumBodyBytes: Int
    /// How long a webhook waits for the brokers' acknowledgement before it gets 503.
    public var produceTimeout: Duration
    /// The `Retry-After` (seconds) sent with 503.
    public var retryAfterSeconds: Int
    /// How long delivery ids are remembered for deduplication.
    public var deduplicationRetention: Duration
    /// The SQLite file of the deduplication store.
    public var databasePath: String

    public init(
        organizations: [OrganizationSettings],
        maximumBodyBytes: Int = 1 << 20,
        produceTimeout: Duration = .seconds(5),
        retryAfterSeconds: Int = 5,
        deduplicationRetention: Duration = .seconds(7 * 24 * 3600),
        databasePath: String = "var/ingest/ingest.sqlite"
    ) {
        self.organizations = organizations
        self.maximumBodyBytes = maximumBodyBytes
        self.produceTimeout = produceTimeout
        self.retryAfterSeconds = retryAfterSeconds
        self.deduplicationRetention = deduplicationRetention
        self.databasePath = databasePath
    }

    /// Reads the `ingest.*` keys:
    /// - `ingest.organizations` (string list, required): organization names, e.g. `acme,globex`
    /// - per name N: `ingest.organization.N.id`, `ingest.organization.N.hmacKey` (secret),
    ///   `ingest.organization.N.jwtPublicKey`, `ingest.organization.N.jwtIssuer`; at least one of hmacKey
    ///   and jwtPublicKey, and jwtIssuer with jwtPublicKey
    /// - `ingest.maxBodyBytes` (default 1048576), `ingest.produceTimeoutMs` (default 5000),
    ///   `ingest.retryAfterSeconds` (default 5), `ingest.dedupeRetentionHours` (default 168),
    ///   `ingest.databasePath` (default `var/ingest/ingest.sqlite`)
    public init(config: ConfigReader) throws {
        var problems: [String] = []
        let names = config.stringArray(forKey: "ingest.organizations", default: [])
        if names.isEmpty { problems.append("ingest.organizations: name at least one organization") }
        var organizations: [OrganizationSettings] = []
        for name in names {
            let scoped = config.scoped(to: ConfigKey(["ingest", "organization", name]))
            let organization = OrganizationSettings(
                name: name,
                id: scoped.string(forKey: "id"),
                hmacKey: scoped.string(forKey: "hmacKey", isSecret: true),
                jwtPublicKeyPEM: scoped.string(forKey: "jwtPublicKey"),
                jwtIssuer: scoped.string(forKey: "jwtIssuer")
            )
            if organization.hmacKey == nil && organization.jwtPublicKeyPEM == nil {
                problems.append("ingest.organization.\(name): set hmacKey, jwtPublicKey, or both")
            }
            if organization.jwtPublicKeyPEM != nil && organization.jwtIssuer == nil {
                problems.append("ingest.organization.\(name).jwtIssuer: required with jwtPublicKey (Lago's LAGO_API_URL)")
            }
            organizations.append(organization)
        }
        // Names and ids share the webhook URL's path segment, so each must point to one organization.
        var owners: [String: String] = [:]
        for organization in organizations {
            for handle in Set([organization.name] + (organization.id.map { [$0] } ?? [])) {
                if let other = owners.updateValue(organization.name, forKey: handle), other != organization.name {
                    problems.append("ingest.organizations: \(handle) names both \(other) and \(organization.name)")
                }
            }
        }
        func positive(_ key: String, default value: Int) -> Int {
            let number = config.int(forKey: ConfigKey(key), default: value)
            guard number > 0 else {
                problems.append("\(key): must be a positive number, not \(number)")
                return value
            }
            return number
        }
        let maximumBodyBytes = positive("ingest.maxBodyBytes", default: 1 << 20)
        let produceTimeout = positive("ingest.produceTimeoutMs", default: 5000)
        let retryAfter = positive("ingest.retryAfterSeconds", default: 5)
        let retentionHours = positive("ingest.dedupeRetentionHours", default: 168)
        guard problems.isEmpty else { throw ConfigurationError(problems: problems) }
        self.init(
            organizations: organizations,
            maximumBodyBytes: maximumBodyBytes,
            produceTimeout: .milliseconds(produceTimeout),
            retryAfterSeconds: retryAfter,
            deduplicationRetention: .seconds(3600 * retentionHours),
            databasePath: config.string(forKey: "ingest.databasePath", default: "var/ingest/ingest.sqlite")
        )
    }
}
