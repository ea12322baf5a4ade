import Contract
import Hummingbird
import Kafka
import Logging
import Prometheus
import ServiceLifecycle
import ServiceRuntime

/// Assembles a writer service around a target system's applier: the command consumer, the writer,
/// the parked-command sweeper, the producer, and the operational HTTP routes.
public enum WriterApplication {
    public static func build(
        name: String,
        system: TargetSystem,
        connections: Set<String>,
        settings: WriterSettings,
        kafka: KafkaClientConfiguration,
        server: ApplicationConfiguration,
        metricsRegistry: PrometheusCollectorRegistry,
        logger: Logger,
        clientServices: [any Service],
        makeApplier: (WriterStore) -> any CommandApplier
    ) throws -> some ApplicationProtocol {
        let store = try WriterStore(database: StateDatabase.open(path: settings.databasePath))
        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(client: kafka), logger: logger)
        let writer = CommandWriter(
            settings: CommandWriterSettings(
                system: system, reporter: name, connections: connections,
                parkingDeadline: settings.parkingDeadline, parkedRetryInterval: settings.parkedRetryInterval),
            applier: makeApplier(store), store: store, producer: producer, logger: logger)
        let consumer = try KafkaConsumer(
            configuration: KafkaConsumerConfiguration(client: kafka, groupID: settings.consumerGroup, topics: [system.commandTopic]),
            logger: logger)

        let router = Router.service(registry: metricsRegistry, producer: producer, storeCheck: { try await store.check() })
        var app = Application(router: router, configuration: server, logger: logger)
        // Shut down in reverse order: stop consuming and sweeping, then flush the producer, then the
        // clients of the target system.
        app.addServices(clientServices)
        app.addServices(
            producer,
            ParkedCommandSweeper(writer: writer, interval: .seconds(5), logger: logger),
            BatchConsumerService(
                consumer: consumer, name: name, logger: logger, maximumBatch: settings.batchSize,
                linger: settings.batchLinger, process: writer.process))
        return app
    }
}
