import Contract
import CurlHTTP
import Hummingbird
import Kafka
import Logging
import Prometheus
import ServiceLifecycle
import ServiceRuntime

/// Builds the notifier: consumes `sync.results` and the dead-letter queues, emits provider events on
/// `alerts.provider-errors` and to webhook endpoints, and serves the sync history and dashboard.
public enum NotifierApplication {
    public static let name = "notifier"
    public static let defaultPort = 8084
    /// What the notifier consumes: every result, and every dead letter (kept for replays).
    static let topics = [Topic.syncResults] + Topic.all.filter { $0.hasSuffix(".dlq") }

    public static func build(_ context: ServiceContext) async throws -> some ApplicationProtocol {
        try await build(
            configuration: NotifierConfiguration(config: context.config),
            kafka: KafkaClientConfiguration(config: context.config, serviceName: name),
            server: ApplicationConfiguration(http: context.config, defaultPort: defaultPort),
            metricsRegistry: context.metricsRegistry,
            logger: context.logger)
    }

    public static func build(
        configuration: NotifierConfiguration,
        kafka: KafkaClientConfiguration,
        server: ApplicationConfiguration,
        metricsRegistry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(),
        logger: Logger
    ) async throws -> some ApplicationProtocol {
        let store = try NotifierStore(database: StateDatabase.open(path: configuration.databasePath))
        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(client: kafka), logger: logger)
        let consumer = try KafkaConsumer(
            configuration: KafkaConsumerConfiguration(client: kafka, groupID: configuration.consumerGroup, topics: topics),
            logger: logger)
        let http = CurlHTTPClient(
            configuration: CurlHTTPClientConfiguration(requestTimeout: configuration.deliveryTimeout, userAgent: "crossbill-notifier"),
            logger: logger)
        let recorder = ResultRecorder(store: store, producer: producer, coalesceWindow: configuration.coalesceWindow, logger: logger)

        let router = Router.service(registry: metricsRegistry, producer: producer, storeCheck: { try await store.check() })
        Dashboard(store: store, producer: producer, access: DashboardAccess(token: configuration.dashboardToken)).addRoutes(to: router)
        var app = Application(router: router, configuration: server, logger: logger)
        // Shut down in reverse order: stop consuming, publishing and delivering, then flush the producer
        // and close the HTTP client.
        app.addServices(
            http, producer,
            WebhookDeliverer(store: store, http: http, configuration: configuration, logger: logger),
            AlertPublisher(store: store, producer: producer, configuration: configuration, logger: logger),
            HistoryPruner(store: store, retention: configuration.historyRetention, logger: logger),
            BatchConsumerService(consumer: consumer, name: name, logger: logger, linger: configuration.batchLinger, process: recorder.process))
        return app
    }
}
