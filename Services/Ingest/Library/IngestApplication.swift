import Contract
import Hummingbird
import Kafka
import Logging
import Prometheus
import ServiceRuntime

/// Builds the ingest service: the webhook route, operational routes, the Kafka producer and the
/// delivery ledger, as one Hummingbird application.
public enum IngestApplication {
    public static let name = "ingest"
    public static let defaultPort = 8080

    /// Builds from configuration (see `IngestConfiguration.init(config:)` and the README).
    public static func build(_ context: ServiceContext) async throws -> some ApplicationProtocol {
        let configuration = try IngestConfiguration(config: context.config)
        let kafka = KafkaClientConfiguration(config: context.config, serviceName: name)
        return try await build(
            configuration: configuration,
            kafka: kafka,
            server: ApplicationConfiguration(http: context.config, defaultPort: defaultPort),
            metricsRegistry: context.metricsRegistry,
            logger: context.logger
        )
    }

    public static func build(
        configuration: IngestConfiguration,
        kafka: KafkaClientConfiguration,
        server: ApplicationConfiguration,
        metricsRegistry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(),
        logger: Logger
    ) async throws -> some ApplicationProtocol {
        // Keys first: a configuration mistake stops start-up before any connection is opened.
        let organizations = try await WebhookReceiver.organizations(configuration)
        let producer = try KafkaProducer(
            configuration: KafkaProducerConfiguration(client: kafka, deliveryTimeout: configuration.produceTimeout),
            logger: logger
        )
        let ledger = try DeliveryLedger(database: StateDatabase.open(path: configuration.databasePath), logger: logger)
        let receiver = WebhookReceiver(
            organizations: organizations,
            configuration: configuration,
            ledger: ledger,
            publisher: BillingEventPublisher(producer: producer, topic: Topic.billingEvents)
        )

        let router = Router.service(registry: metricsRegistry, producer: producer, storeName: "ledger", storeCheck: { try await ledger.check() })
        router.post("/webhooks/lago/:organization", use: receiver.receive)

        var app = Application(router: router, configuration: server, logger: logger)
        // Shut down in reverse order: the HTTP server first (Hummingbird adds it last), then the
        // purger, the ledger (commits pending records) and the producer (flushes in-flight events).
        app.addServices(
            producer,
            ledger,
            DeliveryLedgerPurger(ledger: ledger, retention: configuration.deduplicationRetention, logger: logger)
        )
        return app
    }
}
