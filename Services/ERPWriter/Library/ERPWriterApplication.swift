import CommandWriting
import Contract
import CurlHTTP
import Hummingbird
import Kafka
import Logging
import Prometheus
import NetSuiteClient
import ServiceRuntime

/// Builds the erp-writer service: applies `erp.commands` to NetSuite.
public enum ERPWriterApplication {
    public static let name = "erp-writer"
    public static let defaultPort = 8083

    public static func build(_ context: ServiceContext) async throws -> some ApplicationProtocol {
        try await build(
            configuration: ERPWriterConfiguration(config: context.config),
            kafka: KafkaClientConfiguration(config: context.config, serviceName: name),
            server: ApplicationConfiguration(http: context.config, defaultPort: defaultPort),
            metricsRegistry: context.metricsRegistry,
            logger: context.logger)
    }

    public static func build(
        configuration: ERPWriterConfiguration,
        kafka: KafkaClientConfiguration,
        server: ApplicationConfiguration,
        metricsRegistry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(),
        logger: Logger
    ) async throws -> some ApplicationProtocol {
        let writerSettings = configuration.writer
        let http = CurlHTTPClient(configuration: .init(requestTimeout: .seconds(60)), logger: logger)
        var clients: [String: NetSuiteClient] = [:]
        for connection in configuration.connections {
            clients[connection.name] = NetSuiteClient(settings: connection, http: http, logger: logger)
        }
        return try WriterApplication.build(
            name: name, system: .netsuite, connections: Set(clients.keys), settings: writerSettings, kafka: kafka,
            server: server, metricsRegistry: metricsRegistry, logger: logger, clientServices: [http]
        ) { store in
            NetSuiteApplier(clients: clients, store: store, retry: writerSettings.retry, logger: logger)
        }
    }
}
