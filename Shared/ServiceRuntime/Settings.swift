import Configuration
import Hummingbird
import Kafka
import Logging

extension ApplicationConfiguration {
    /// Reads `http.host` (default `127.0.0.1`; `0.0.0.0` in containers) and `http.port`.
    public init(http config: ConfigReader, defaultPort: Int) {
        self.init(
            address: .hostname(
                config.string(forKey: "http.host", default: "127.0.0.1"),
                port: config.int(forKey: "http.port", default: defaultPort)
            ),
            serverName: nil
        )
    }
}

extension LogSettings {
    /// Reads `log.level` (trace…critical, default info) and `log.format` (json or text, default json).
    public init(config: ConfigReader) {
        self.init(
            level: config.string(forKey: "log.level", as: Logger.Level.self, default: .info),
            format: config.string(forKey: "log.format", as: Format.self, default: .json)
        )
    }
}

extension KafkaClientConfiguration {
    /// Reads the `kafka.*` keys:
    /// - `kafka.bootstrapServers` (default `localhost:9092`)
    /// - `kafka.clientId` (default: the service name)
    /// - `kafka.statisticsIntervalMs` (default 15000; 0 turns statistics off)
    /// - `kafka.fetchWaitMaxMs` (default: librdkafka's 500): consumers' `fetch.wait.max.ms`
    /// - `kafka.maxInFlight` (default: librdkafka's 5): producers' `max.in.flight.requests.per.connection`
    /// - `kafka.securityProtocol`, `kafka.saslMechanism`, `kafka.saslUsername`, `kafka.saslPassword`,
    ///   `kafka.sslCaLocation`: passed to librdkafka as `security.protocol`, `sasl.mechanisms`, …
    public init(config: ConfigReader, serviceName: String) {
        var properties: [String: String] = [:]
        let passthrough: [(key: String, property: String, secret: Bool)] = [
            ("securityProtocol", "security.protocol", false),
            ("saslMechanism", "sasl.mechanisms", false),
            ("saslUsername", "sasl.username", false),
            ("saslPassword", "sasl.password", true),
            ("sslCaLocation", "ssl.ca.location", false),
        ]
        for entry in passthrough {
            if let value = config.string(forKey: ConfigKey("kafka.\(entry.key)"), isSecret: entry.secret) {
                properties[entry.property] = value
            }
        }
        self.init(
            bootstrapServers: config.string(forKey: "kafka.bootstrapServers", default: "localhost:9092"),
            clientID: config.string(forKey: "kafka.clientId", default: serviceName),
            statisticsInterval: config.milliseconds(forKey: "kafka.statisticsIntervalMs", default: .seconds(15)),
            additionalProperties: properties,
            fetchWait: config.int(forKey: "kafka.fetchWaitMaxMs").map { .milliseconds($0) },
            maxInFlight: config.int(forKey: "kafka.maxInFlight")
        )
    }
}
