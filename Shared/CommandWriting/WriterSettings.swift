import Configuration
import ServiceRuntime

/// Settings both writers read the same way, under their own prefix (`crm.` or `erp.`).
public struct WriterSettings: Sendable {
    public var databasePath: String
    public var consumerGroup: String
    /// Commands gathered into one batch at most, and how long to wait to fill it.
    public var batchSize: Int
    public var batchLinger: Duration
    public var retry: RetryPolicy
    public var parkingDeadline: Duration
    public var parkedRetryInterval: Duration

    /// Reads `<prefix>.databasePath`, `<prefix>.consumerGroup`, `<prefix>.batchSize` (default
    /// `defaultBatchSize`),
    /// `<prefix>.batchLingerMs` (10), `<prefix>.maxAttempts` (6), `<prefix>.retryInitialMs` (200),
    /// `<prefix>.retryMaxMs` (20000), `<prefix>.parkingDeadlineSeconds` (3600) and
    /// `<prefix>.parkedRetrySeconds` (60).
    public init(config: ConfigReader, prefix: String, serviceName: String, defaultBatchSize: Int = 1000) {
        func key(_ name: String) -> ConfigKey { ConfigKey("\(prefix).\(name)") }
        databasePath = config.string(forKey: key("databasePath"), default: "var/\(serviceName)/\(serviceName).sqlite")
        consumerGroup = config.string(forKey: key("consumerGroup"), default: "crossbill-\(serviceName)")
        batchSize = max(1, config.int(forKey: key("batchSize"), default: defaultBatchSize))
        batchLinger = config.milliseconds(forKey: key("batchLingerMs"), default: .milliseconds(10))
        retry = RetryPolicy(
            maximumAttempts: max(1, config.int(forKey: key("maxAttempts"), default: 6)),
            initialDelay: config.milliseconds(forKey: key("retryInitialMs"), default: .milliseconds(200)),
            maximumDelay: config.milliseconds(forKey: key("retryMaxMs"), default: .seconds(20)))
        parkingDeadline = .seconds(config.int(forKey: key("parkingDeadlineSeconds"), default: 3600))
        parkedRetryInterval = .seconds(config.int(forKey: key("parkedRetrySeconds"), default: 60))
    }
}
