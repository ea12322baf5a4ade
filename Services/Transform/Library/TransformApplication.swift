import Contract
import Hummingbird
import Kafka
import Logging
import Metrics
import Prometheus
import ServiceLifecycle
import ServiceRuntime

/// Builds the transform service: consumes `billing.events`, produces commands on `crm.commands` and
/// `erp.commands` and results on `sync.results`.
public enum TransformApplication {
    public static let name = "transform"
    public static let defaultPort = 8081

    public static func build(_ context: ServiceContext) async throws -> some ApplicationProtocol {
        try await build(
            configuration: TransformConfiguration(config: context.config),
            kafka: KafkaClientConfiguration(config: context.config, serviceName: name),
            server: ApplicationConfiguration(http: context.config, defaultPort: defaultPort),
            metricsRegistry: context.metricsRegistry,
            logger: context.logger)
    }

    public static func build(
        configuration: TransformConfiguration,
        kafka: KafkaClientConfiguration,
        server: ApplicationConfiguration,
        metricsRegistry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(),
        logger: Logger
    ) async throws -> some ApplicationProtocol {
        // Mappings first: a mistake in a file stops start-up with its file and line.
        let engine = TransformEngine(connections: try configuration.loadConnections())
        let state = try TransformState(database: StateDatabase.open(path: configuration.databasePath))
        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(client: kafka), logger: logger)
        let consumer = try KafkaConsumer(
            configuration: KafkaConsumerConfiguration(client: kafka, groupID: configuration.consumerGroup, topics: [Topic.billingEvents]),
            logger: logger)
        let processor = TransformProcessor(engine: engine, state: state, producer: producer, logger: logger)
        let consuming = BatchConsumerService(consumer: consumer, name: name, logger: logger, process: processor.process)

        let router = Router.service(registry: metricsRegistry, producer: producer, storeName: "state", storeCheck: { try await state.check() })
        var app = Application(router: router, configuration: server, logger: logger)
        // Shut down in reverse order: stop consuming (finishing the batch in hand), then flush the producer.
        app.addServices(producer, consuming)
        return app
    }
}

/// Processes one batch: plan every message against the state, produce every output and wait for the
/// brokers, then store the state changes.
struct TransformProcessor: Sendable {
    let engine: TransformEngine
    let state: TransformState
    let producer: KafkaProducer
    let logger: Logger
    private let commands = Counter(label: "transform_commands_total")
    private let results = Counter(label: "transform_results_total")

    init(engine: TransformEngine, state: TransformState, producer: KafkaProducer, logger: Logger) {
        self.engine = engine
        self.state = state
        self.producer = producer
        self.logger = logger
    }

    func process(_ batch: [KafkaMessage]) async throws {
        let (messages, changes) = try await state.plan { [engine] view in
            var outgoing: [KafkaOutgoingMessage] = []
            for message in batch {
                let traceParent = message.header(MessageHeader.traceParent) ?? ""
                for output in try engine.transform(message, state: &view) {
                    outgoing.append(try Self.message(for: output, key: message.key ?? [], traceParent: traceParent))
                    if case .rejected(let result) = output, let error = result.error {
                        outgoing.append(EventMessages.deadLetter(of: message, error: error, attempts: 0))
                    }
                }
            }
            return outgoing
        }
        try await producer.send(messages)
        try await state.apply(changes)
        let commandCount = messages.count { $0.topic == Topic.crmCommands || $0.topic == Topic.erpCommands }
        commands.increment(by: commandCount)
        results.increment(by: messages.count { $0.topic == Topic.syncResults })
    }

    static func message(for output: TransformOutput, key: [UInt8], traceParent: String) throws -> KafkaOutgoingMessage {
        switch output {
        case .command(let command):
            return try EventMessages.json(
                command, topic: command.system.commandTopic, key: key, id: command.id,
                type: CrossbillEventType.upsertCommand, source: "/crossbill/transform", schema: .syncCommand, traceParent: traceParent)
        case .result(let result), .rejected(let result):
            return try EventMessages.json(
                result, topic: Topic.syncResults, key: key,
                id: "\(result.source.eventID)/\(result.connection ?? "-")/\(result.object ?? result.source.billingObject)/\(result.outcome.rawValue)",
                type: CrossbillEventType.syncResult, source: "/crossbill/transform", schema: .syncResult, traceParent: traceParent)
        }
    }
}
