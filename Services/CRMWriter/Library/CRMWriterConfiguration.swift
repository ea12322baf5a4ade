import CommandWriting
import Configuration
import Foundation
import Logging
import SalesforceClient
import ServiceRuntime

/// How hard the writer may push one Salesforce connection.
public struct SalesforceConnectionTuning: Sendable {
    /// Once this share of the daily API allocation is used, every call waits `slowdownDelay` first.
    public var slowdownShare: Double
    public var slowdownDelay: Duration
    /// After `REQUEST_LIMIT_EXCEEDED`, the connection pauses this long before trying again, for at most
    /// `limitPauseMaximum` in all; then the commands fail (retryable, on the DLQ).
    public var limitPause: Duration
    public var limitPauseMaximum: Duration

    public init(
        slowdownShare: Double = 0.9, slowdownDelay: Duration = .seconds(1),
        limitPause: Duration = .seconds(300), limitPauseMaximum: Duration = .seconds(3600)
    ) {
        self.slowdownShare = slowdownShare
        self.slowdownDelay = slowdownDelay
        self.limitPause = limitPause
        self.limitPauseMaximum = limitPauseMaximum
    }

    func pauseIfNearBudget(_ client: SalesforceClient, logger: Logger) async {
        guard let usage = client.apiUsage, usage.share >= slowdownShare else { return }
        logger.notice("Salesforce API usage is past the slowdown share", metadata: [
            "used": "\(usage.used)", "max": "\(usage.maximum)", "slowdownShare": "\(slowdownShare)",
        ])
        try? await Task.sleep(for: slowdownDelay)
    }
}

/// One Salesforce connection's settings.
public struct CRMConnectionSettings: Sendable {
    public var salesforce: SalesforceConnectionSettings
    public var tuning: SalesforceConnectionTuning

    public init(salesforce: SalesforceConnectionSettings, tuning: SalesforceConnectionTuning = .init()) {
        self.salesforce = salesforce
        self.tuning = tuning
    }
}

/// Settings of the crm-writer service.
public struct CRMWriterConfiguration: Sendable {
    public var connections: [CRMConnectionSettings]
    public var writer: WriterSettings

    /// Reads `crm.*`:
    /// - `crm.connections` (list, required)
    /// - per name N under `crm.connection.N.`: `loginUrl` (required), `grant` (`clientCredentials`,
    ///   `jwtBearer` or `refreshToken`; default clientCredentials), `clientId`, `clientSecret` (secret),
    ///   `username` and `privateKeyFile` (JWT bearer), `audience` (default: the login URL),
    ///   `refreshToken` (secret), `apiVersion` (default 62.0), `slowdownShare` (0.9),
    ///   `slowdownDelayMs` (1000), `limitPauseSeconds` (300), `limitPauseMaxSeconds` (3600),
    ///   `requestTimeoutMs` (30000)
    /// - the writer keys of `WriterSettings` under `crm.`
    public init(config: ConfigReader) throws {
        var problems: [String] = []
        let names = config.stringArray(forKey: "crm.connections", default: [])
        if names.isEmpty { problems.append("crm.connections: name at least one connection") }
        var connections: [CRMConnectionSettings] = []
        for name in names {
            let prefix = "crm.connection.\(name)"
            let scoped = config.scoped(to: ConfigKey(["crm", "connection", name]))
            func required(_ key: String, secret: Bool = false) -> String {
                guard let value = scoped.string(forKey: ConfigKey(key), isSecret: secret), !value.isEmpty else {
                    problems.append("\(prefix).\(key): required")
                    return ""
                }
                return value
            }
            let loginURL = required("loginUrl")
            let grant: SalesforceConnectionSettings.Grant
            switch scoped.string(forKey: "grant", default: "clientCredentials") {
            case "clientCredentials":
                grant = .clientCredentials(clientID: required("clientId"), clientSecret: required("clientSecret", secret: true))
            case "jwtBearer":
                let keyFile = required("privateKeyFile")
                let pem = keyFile.isEmpty ? "" : ((try? String(contentsOfFile: keyFile, encoding: .utf8)) ?? "")
                if !keyFile.isEmpty && pem.isEmpty { problems.append("\(prefix).privateKeyFile: cannot read \(keyFile)") }
                grant = .jwtBearer(
                    clientID: required("clientId"), username: required("username"), privateKeyPEM: pem,
                    audience: scoped.string(forKey: "audience", default: loginURL))
            case "refreshToken":
                grant = .refreshToken(
                    clientID: required("clientId"), clientSecret: scoped.string(forKey: "clientSecret", isSecret: true),
                    refreshToken: required("refreshToken", secret: true))
            case let other:
                problems.append("\(prefix).grant: expected clientCredentials, jwtBearer or refreshToken, not \(other)")
                continue
            }
            let share = scoped.double(forKey: "slowdownShare", default: 0.9)
            if !(0...1).contains(share) { problems.append("\(prefix).slowdownShare: must be between 0 and 1") }
            connections.append(CRMConnectionSettings(
                salesforce: SalesforceConnectionSettings(
                    name: name, loginURL: loginURL, grant: grant,
                    apiVersion: scoped.string(forKey: "apiVersion", default: "62.0"),
                    requestTimeout: scoped.milliseconds(forKey: "requestTimeoutMs", default: .seconds(30))),
                tuning: SalesforceConnectionTuning(
                    slowdownShare: share,
                    slowdownDelay: scoped.milliseconds(forKey: "slowdownDelayMs", default: .seconds(1)),
                    limitPause: .seconds(scoped.int(forKey: "limitPauseSeconds", default: 300)),
                    limitPauseMaximum: .seconds(scoped.int(forKey: "limitPauseMaxSeconds", default: 3600)))))
        }
        guard problems.isEmpty else { throw ConfigurationError(problems: problems) }
        self.connections = connections
        self.writer = WriterSettings(config: config, prefix: "crm", serviceName: "crm-writer")
    }

    public init(connections: [CRMConnectionSettings], writer: WriterSettings) {
        self.connections = connections
        self.writer = writer
    }
}
