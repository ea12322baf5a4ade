import CommandWriting
import Configuration
import Foundation
import NetSuiteClient
import ServiceRuntime

/// Settings of the erp-writer service.
public struct ERPWriterConfiguration: Sendable {
    public var connections: [NetSuiteConnectionSettings]
    public var writer: WriterSettings

    /// Reads `erp.*`:
    /// - `erp.connections` (list, required)
    /// - per name N under `erp.connection.N.`: `accountId` (required), `baseUrl` (default: the account's
    ///   `suitetalk.api.netsuite.com` domain), `auth` (`tokenBased` or `clientCredentials`; default
    ///   tokenBased), `consumerKey`, `consumerSecret` (secret), `tokenId`, `tokenSecret` (secret) for
    ///   token-based authentication; `clientId`, `certificateId`, `privateKeyFile`, `algorithm` (PS256 or
    ///   ES256, default PS256), `scopes` (default rest_webservices) for client credentials;
    ///   `concurrencyLimit` (default 5), `requestTimeoutMs` (default 60000)
    /// - the writer keys of `WriterSettings` under `erp.` (`erp.batchSize` defaults to 100)
    public init(config: ConfigReader) throws {
        var problems: [String] = []
        let names = config.stringArray(forKey: "erp.connections", default: [])
        if names.isEmpty { problems.append("erp.connections: name at least one connection") }
        var connections: [NetSuiteConnectionSettings] = []
        for name in names {
            let prefix = "erp.connection.\(name)"
            let scoped = config.scoped(to: ConfigKey(["erp", "connection", name]))
            func required(_ key: String, secret: Bool = false) -> String {
                guard let value = scoped.string(forKey: ConfigKey(key), isSecret: secret), !value.isEmpty else {
                    problems.append("\(prefix).\(key): required")
                    return ""
                }
                return value
            }
            let accountID = required("accountId")
            let authentication: NetSuiteConnectionSettings.Authentication
            switch scoped.string(forKey: "auth", default: "tokenBased") {
            case "tokenBased":
                authentication = .tokenBased(
                    consumerKey: required("consumerKey"), consumerSecret: required("consumerSecret", secret: true),
                    tokenID: required("tokenId"), tokenSecret: required("tokenSecret", secret: true))
            case "clientCredentials":
                let keyFile = required("privateKeyFile")
                let pem = keyFile.isEmpty ? "" : ((try? String(contentsOfFile: keyFile, encoding: .utf8)) ?? "")
                if !keyFile.isEmpty && pem.isEmpty { problems.append("\(prefix).privateKeyFile: cannot read \(keyFile)") }
                let algorithmName = scoped.string(forKey: "algorithm", default: "PS256")
                guard let algorithm = NetSuiteConnectionSettings.AssertionAlgorithm(rawValue: algorithmName) else {
                    problems.append("\(prefix).algorithm: expected PS256 or ES256, not \(algorithmName)")
                    continue
                }
                authentication = .clientCredentials(
                    clientID: required("clientId"), certificateID: required("certificateId"), privateKeyPEM: pem,
                    algorithm: algorithm, scopes: scoped.stringArray(forKey: "scopes", default: ["rest_webservices"]))
            case let other:
                problems.append("\(prefix).auth: expected tokenBased or clientCredentials, not \(other)")
                continue
            }
            let limit = scoped.int(forKey: "concurrencyLimit", default: 5)
            if limit < 1 { problems.append("\(prefix).concurrencyLimit: must be at least 1") }
            connections.append(NetSuiteConnectionSettings(
                name: name, accountID: accountID,
                baseURL: scoped.string(forKey: "baseUrl", default: NetSuiteConnectionSettings.defaultBaseURL(accountID: accountID)),
                authentication: authentication, concurrencyLimit: max(1, limit),
                requestTimeout: scoped.milliseconds(forKey: "requestTimeoutMs", default: .seconds(60))))
        }
        guard problems.isEmpty else { throw ConfigurationError(problems: problems) }
        self.connections = connections
        // NetSuite takes one record per request, so a large batch saves no calls; a small one reports
        // results sooner.
        self.writer = WriterSettings(config: config, prefix: "erp", serviceName: "erp-writer", defaultBatchSize: 100)
    }

    public init(connections: [NetSuiteConnectionSettings], writer: WriterSettings) {
        self.connections = connections
        self.writer = writer
    }
}
