import Configuration
import Foundation
import ServiceRuntime

/// A receiver of provider events: where they go, the secret they are signed with, which types it takes.
public struct WebhookEndpoint: Sendable, Hashable {
    public let name: String
    public let url: URL
    public let secret: String
    /// Event types (`customer.accounting_provider_error`, …) the endpoint takes; empty takes them all.
    public let eventTypes: Set<String>

    public init(name: String, url: URL, secret: String, eventTypes: Set<String>) {
        self.name = name
        self.url = url
        self.secret = secret
        self.eventTypes = eventTypes
    }

    func takes(_ eventType: String) -> Bool { eventTypes.isEmpty || eventTypes.contains(eventType) }
}

/// Settings of the notifier service.
public struct NotifierConfiguration: Sendable {
    public var databasePath: String
    public var consumerGroup: String
    /// The token the dashboard and its JSON API require.
    public var dashboardToken: String
    /// Where the dashboard is reached from outside, for the links in events.
    public var publicURL: String
    public var endpoints: [WebhookEndpoint]
    /// Endpoints may resolve to private or loopback addresses (a receiver inside the cluster).
    public var allowPrivateAddresses: Bool
    /// Identical failures of one document within this window make one alert.
    public var coalesceWindow: Duration
    /// How long a delivery is retried before it is given up.
    public var retryPeriod: Duration
    public var retryInitialDelay: Duration
    public var retryMaximumDelay: Duration
    public var deliveryTimeout: Duration
    /// Deliveries in flight at once.
    public var deliveryConcurrency: Int
    /// How long results, dead letters, finished deliveries and emitted alerts are kept.
    public var historyRetention: Duration
    /// How long to keep collecting results into one batch, recorded in one transaction.
    public var batchLinger: Duration

    public static let eventTypes: Set<String> = [
        ProviderEventType.accountingError, ProviderEventType.crmError,
        ProviderEventType.accountingCreated, ProviderEventType.crmCreated,
    ]

    /// Reads `notifier.*`:
    /// - `notifier.databasePath` (default `var/notifier/notifier.sqlite`), `notifier.consumerGroup`
    ///   (default `crossbill-notifier`)
    /// - `notifier.dashboardToken` (secret, required, at least 16 characters), `notifier.publicUrl`
    ///   (default `http://127.0.0.1:8084`)
    /// - `notifier.endpoints` (list), per name N under `notifier.endpoint.N.`: `url` (required, http or
    ///   https), `secret` (secret, required), `events` (list of event types; default all)
    /// - `notifier.allowPrivateAddresses` (default false), `notifier.coalesceWindowMs` (default 30000),
    ///   `notifier.retryPeriodSeconds` (default 86400), `notifier.retryInitialMs` (default 5000),
    ///   `notifier.retryMaxMs` (default 3600000), `notifier.deliveryTimeoutMs` (default 10000),
    ///   `notifier.deliveryConcurrency` (default 8), `notifier.historyDays` (default 30)
    public init(config: ConfigReader) throws {
        var problems: [String] = []
        let token = config.string(forKey: "notifier.dashboardToken", isSecret: true) ?? ""
        if token.count < 16 { problems.append("notifier.dashboardToken: required, at least 16 characters") }
        let allowPrivate = config.bool(forKey: "notifier.allowPrivateAddresses", default: false)
        var endpoints: [WebhookEndpoint] = []
        for name in config.stringArray(forKey: "notifier.endpoints", default: []) {
            let scoped = config.scoped(to: ConfigKey(["notifier", "endpoint", name]))
            let prefix = "notifier.endpoint.\(name)"
            let secret = scoped.string(forKey: "secret", isSecret: true) ?? ""
            if secret.isEmpty { problems.append("\(prefix).secret: required") }
            let types = Set(scoped.stringArray(forKey: "events", default: []))
            for unknown in types.subtracting(Self.eventTypes).sorted() {
                problems.append("\(prefix).events: unknown event type \(unknown); expected some of \(Self.eventTypes.sorted().joined(separator: ", "))")
            }
            let text = scoped.string(forKey: "url") ?? ""
            do {
                let url = try EndpointAddressPolicy(allowPrivateAddresses: allowPrivate).checkedURL(text)
                endpoints.append(WebhookEndpoint(name: name, url: url, secret: secret, eventTypes: types))
            } catch {
                problems.append("\(prefix).url: \(error)")
            }
        }
        let historyDays = config.int(forKey: "notifier.historyDays", default: 30)
        if historyDays < 1 { problems.append("notifier.historyDays: must be at least 1") }
        let concurrency = config.int(forKey: "notifier.deliveryConcurrency", default: 8)
        if concurrency < 1 { problems.append("notifier.deliveryConcurrency: must be at least 1") }
        guard problems.isEmpty else { throw ConfigurationError(problems: problems) }
        self.databasePath = config.string(forKey: "notifier.databasePath", default: "var/notifier/notifier.sqlite")
        self.consumerGroup = config.string(forKey: "notifier.consumerGroup", default: "crossbill-notifier")
        self.dashboardToken = token
        self.publicURL = config.string(forKey: "notifier.publicUrl", default: "http://127.0.0.1:\(NotifierApplication.defaultPort)")
        self.endpoints = endpoints
        self.allowPrivateAddresses = allowPrivate
        self.coalesceWindow = config.milliseconds(forKey: "notifier.coalesceWindowMs", default: .seconds(30))
        self.retryPeriod = .seconds(config.int(forKey: "notifier.retryPeriodSeconds", default: 86_400))
        self.retryInitialDelay = config.milliseconds(forKey: "notifier.retryInitialMs", default: .seconds(5))
        self.retryMaximumDelay = config.milliseconds(forKey: "notifier.retryMaxMs", default: .seconds(3600))
        self.deliveryTimeout = config.milliseconds(forKey: "notifier.deliveryTimeoutMs", default: .seconds(10))
        self.deliveryConcurrency = concurrency
        self.historyRetention = .seconds(historyDays * 86_400)
        self.batchLinger = config.milliseconds(forKey: "notifier.batchLingerMs", default: .milliseconds(50))
    }
}
