import Contract
import Crypto
import CurlHTTP
import Foundation
import HTTPTypes
import Kafka
import Logging
import Metrics
import ServiceLifecycle
import ServiceRuntime
import Synchronization

/// Records each batch of `sync.results` and dead letters in the store, so its offsets are committed
/// only once the alerts and announcements it leads to are durable.
struct ResultRecorder: Sendable {
    static let reporter = "notifier"
    let store: NotifierStore
    let producer: KafkaProducer
    let coalesceWindow: Duration
    let logger: Logger

    func process(_ batch: [KafkaMessage]) async throws {
        var results: [NotifierStore.IncomingResult] = []
        var deadLetters: [NotifierStore.IncomingDeadLetter] = []
        var refused: [KafkaOutgoingMessage] = []
        for message in batch {
            if message.topic.hasSuffix(".dlq") {
                deadLetters.append(NotifierStore.IncomingDeadLetter(
                    sourceTopic: message.header(DeadLetterHeader.sourceTopic) ?? String(message.topic.dropLast(".dlq".count)),
                    messageID: message.header(MessageHeader.id) ?? "\(message.topic)/\(message.partition)/\(message.offset)",
                    key: message.key, value: message.value, headers: message.headers))
                continue
            }
            do throws(ContractViolation) {
                let result = try MessageContract.decode(
                    SyncResult.self, value: message.value, schemaHeader: message.header(MessageHeader.dataSchema), expected: .syncResult)
                results.append(NotifierStore.IncomingResult(
                    result: result, key: message.keyString.flatMap(MessageKey.init), rawKey: message.key,
                    partition: message.partition, offset: message.offset))
            } catch {
                logger.warning("result refused", metadata: ["error.code": "\(error.code.rawValue)", "error.message": "\(error.message)"])
                refused += refusal(of: message, violation: error)
            }
        }
        try await producer.send(refused)
        try await store.record(results: results, deadLetters: deadLetters, coalesceWindow: coalesceWindow)
    }

    /// A result message that breaks the contract: its dead letter, and a failed result saying why.
    private func refusal(of message: KafkaMessage, violation: ContractViolation) -> [KafkaOutgoingMessage] {
        let eventID = message.header(MessageHeader.id) ?? "\(message.topic)/\(message.partition)/\(message.offset)"
        let result = SyncResult(
            outcome: .failed, source: SourceDocument(eventID: eventID, eventType: message.header(MessageHeader.type) ?? "unknown", billingObject: "unknown", billingID: ""),
            reason: violation.code.rawValue, error: violation.providerError, reporter: Self.reporter)
        var outgoing = [EventMessages.deadLetter(of: message, error: violation.providerError, attempts: 0)]
        if let report = try? EventMessages.json(
            result, topic: Topic.syncResults, key: message.key ?? [], id: "\(eventID)/refused", type: CrossbillEventType.syncResult,
            source: "/crossbill/notifier", schema: .syncResult, traceParent: message.header(MessageHeader.traceParent) ?? "")
        {
            outgoing.append(report)
        }
        return outgoing
    }
}

/// Turns due alerts into events: published on `alerts.provider-errors`, then put in the outbox of
/// every endpoint that takes them, all the alerts due at once together. A crash between the two
/// publishes the events again with the same ids.
struct AlertPublisher: Service {
    let store: NotifierStore
    let producer: KafkaProducer
    let endpoints: [WebhookEndpoint]
    let publicURL: String
    let retryPeriod: Duration
    let logger: Logger
    private let published = Counter(label: "notifier_events_total")

    init(store: NotifierStore, producer: KafkaProducer, configuration: NotifierConfiguration, logger: Logger) {
        self.store = store
        self.producer = producer
        self.endpoints = configuration.endpoints
        self.publicURL = configuration.publicURL
        self.retryPeriod = configuration.retryPeriod
        self.logger = logger
    }

    func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                let due = try await store.dueAlerts()
                if !due.isEmpty {
                    try await publish(due)
                    continue
                }
            } catch {
                logger.error("publishing alerts failed; trying again", metadata: ["error": "\(error)"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(250)) }
        }
    }

    private func publish(_ alerts: [NotifierStore.DueAlert]) async throws {
        let messages = try alerts.map(message(for:))
        try await producer.send(messages)
        try await store.emitted(zip(alerts, messages).map { ($0, $1.value) }, endpoints: endpoints, retryPeriod: retryPeriod)
        published.increment(by: alerts.count)
    }

    private func message(for alert: NotifierStore.DueAlert) throws -> KafkaOutgoingMessage {
        let event: JSONValue
        let schema: MessageSchema
        if alert.eventType == ProviderEventType.accountingError || alert.eventType == ProviderEventType.crmError {
            let summary = try JSONDecoder().decode(FailureSummary.self, from: Data(alert.summary.utf8))
            event = ProviderEvents.error(summary, dashboardURL: "\(publicURL)/dashboard/failures/\(alert.resultID)")
            schema = .providerErrorEvent
        } else {
            event = JSONValue.parse(Data(alert.summary.utf8)) ?? .null
            schema = .providerCreatedEvent
        }
        return try EventMessages.json(
            event, topic: Topic.providerErrorAlerts, key: alert.messageKey, id: alert.id, type: alert.eventType,
            source: "/crossbill/notifier", schema: schema, traceParent: "")
    }
}

/// Delivers the outbox to the endpoints: signed, with a delivery id stable across retries, retried
/// with exponential backoff and jitter until the retry period is over.
final class WebhookDeliverer: Service, Sendable {
    /// Header names of a delivery.
    enum Header {
        static let deliveryID = "X-Crossbill-Delivery-Id"
        static let timestamp = "X-Crossbill-Timestamp"
        static let event = "X-Crossbill-Event"
        static let signature = "X-Crossbill-Signature"
    }

    let store: NotifierStore
    let http: CurlHTTPClient
    let endpoints: [String: WebhookEndpoint]
    let policy: EndpointAddressPolicy
    let configuration: NotifierConfiguration
    let logger: Logger
    private let busy = Mutex<Set<String>>([])
    private let attempts = Counter(label: "notifier_delivery_attempts_total")
    private let failures = Counter(label: "notifier_delivery_failures_total")

    init(store: NotifierStore, http: CurlHTTPClient, configuration: NotifierConfiguration, logger: Logger) {
        self.store = store
        self.http = http
        self.endpoints = Dictionary(uniqueKeysWithValues: configuration.endpoints.map { ($0.name, $0) })
        self.policy = EndpointAddressPolicy(allowPrivateAddresses: configuration.allowPrivateAddresses)
        self.configuration = configuration
        self.logger = logger
    }

    /// `v1=` and the hex HMAC-SHA256, keyed with the endpoint's secret, of `<timestamp>.<delivery id>.<body>`.
    static func signature(secret: String, timestamp: Int, deliveryID: String, body: [UInt8]) -> String {
        var message = Array("\(timestamp).\(deliveryID).".utf8)
        message += body
        let code = HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: Data(secret.utf8)))
        return "v1=" + code.map { String(format: "%02x", $0) }.joined()
    }

    func run() async throws {
        await cancelWhenGracefulShutdown { [self] in
            await withDiscardingTaskGroup { group in
                while !Task.isCancelled {
                    let busyNow = busy.withLock { $0 }
                    let free = configuration.deliveryConcurrency - busyNow.count
                    if free > 0, let due = try? await store.dueDeliveries(excluding: busyNow, limit: free) {
                        for delivery in due {
                            busy.withLock { _ = $0.insert(delivery.id) }
                            group.addTask { [self] in
                                await deliver(delivery)
                                busy.withLock { _ = $0.remove(delivery.id) }
                            }
                        }
                    }
                    try? await Task.sleep(for: .milliseconds(100))
                }
            }
        }
    }

    private func deliver(_ delivery: NotifierStore.Delivery) async {
        attempts.increment()
        var status: Int?
        var problem: String?
        if let endpoint = endpoints[delivery.endpoint] {
            do {
                try await checkAddress(of: endpoint)
                let timestamp = Int(Date().timeIntervalSince1970)
                let response = try await http.execute(HTTPClientRequest(
                    method: .post, url: endpoint.url.absoluteString,
                    headers: [
                        .contentType: "application/json",
                        HTTPField.Name(Header.deliveryID)!: delivery.id,
                        HTTPField.Name(Header.timestamp)!: String(timestamp),
                        HTTPField.Name(Header.event)!: delivery.eventType,
                        HTTPField.Name(Header.signature)!: Self.signature(
                            secret: endpoint.secret, timestamp: timestamp, deliveryID: delivery.id, body: delivery.body),
                    ],
                    body: delivery.body, timeout: configuration.deliveryTimeout))
                status = response.status.code
                if !(200..<300).contains(response.status.code) { problem = "answered \(response.status.code)" }
            } catch is CancellationError {
                return  // shutting down: the delivery stays due and is sent again after the restart
            } catch {
                problem = "\(error)"
            }
        } else {
            problem = "endpoint \(delivery.endpoint) is no longer configured"
        }
        let delivered = problem == nil
        if !delivered {
            failures.increment()
            logger.info("webhook delivery failed", metadata: [
                "delivery": "\(delivery.id)", "endpoint": "\(delivery.endpoint)", "attempt": "\(delivery.attempts + 1)",
                "error": "\(problem ?? "")",
            ])
        }
        let retryAt = endpoints[delivery.endpoint] == nil ? .distantFuture : Date().addingTimeInterval(backoff(afterAttempt: delivery.attempts + 1))
        do {
            try await store.recordAttempt(delivery, status: status, error: problem, delivered: delivered, retryAt: retryAt)
        } catch {
            logger.error("recording a delivery attempt failed", metadata: ["delivery": "\(delivery.id)", "error": "\(error)"])
        }
    }

    /// Seconds before the next attempt: doubling from the initial delay up to the maximum, with jitter
    /// so that many failed deliveries do not return at once.
    private func backoff(afterAttempt attempt: Int) -> Double {
        func seconds(_ duration: Duration) -> Double {
            Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        }
        let base = min(seconds(configuration.retryMaximumDelay), seconds(configuration.retryInitialDelay) * pow(2, Double(min(attempt - 1, 30))))
        return base * Double.random(in: 0.5...1.0)
    }

    /// Resolution blocks, so it runs on a dispatch queue rather than the cooperative pool.
    private func checkAddress(of endpoint: WebhookEndpoint) async throws {
        let policy = policy
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            DispatchQueue.global().async {
                do {
                    try policy.check(host: endpoint.url.host ?? "")
                    continuation.resume()
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }
}

/// Keeps the store to the configured history: once at start and then every hour.
struct HistoryPruner: Service {
    let store: NotifierStore
    let retention: Duration
    let logger: Logger

    func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await store.prune(before: Date().addingTimeInterval(-Double(retention.components.seconds)))
            } catch {
                logger.error("pruning the history failed", metadata: ["error": "\(error)"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(3600)) }
        }
    }
}
