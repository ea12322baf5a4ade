import CommandWriting
import Contract
import CurlHTTP
import Hummingbird
import Kafka
import Logging
import Prometheus
import SalesforceClient
import ServiceRuntime

/// Builds the crm-writer service: applies `crm.commands` to Salesforce.
public enum CRMWriterApplication {
    public static let name = "crm-writer"
    public static let defaultPort = 8082

    public static func build(_ context: ServiceContext) async throws -> some ApplicationProtocol {
        try await build(
            configuration: CRMWriterConfiguration(config: context.config),
            kafka: KafkaClientConfiguration(config: context.config, serviceName: name),
            server: ApplicationConfiguration(http: context.config, defaultPort: defaultPort),
            metricsRegistry: context.metricsRegistry,
            logger: context.logger)
    }

    public static func build(
        configuration: CRMWriterConfiguration,
        kafka: KafkaClientConfiguration,
        server: ApplicationConfiguration,
        metricsRegistry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(),
        logger: Logger
    ) async throws -> some ApplicationProtocol {
        let writerSettings = configuration.writer
        let http = CurlHTTPClient(configuration: .init(requestTimeout: .seconds(60)), logger: logger)
        var connections: [String: SalesforceConnection] = [:]
        for connection in configuration.connections {
            connections[connection.salesforce.name] = SalesforceConnection(
                client: SalesforceClient(settings: connection.salesforce, http: http, logger: logger),
                tuning: connection.tuning)
        }
        return try WriterApplication.build(
            name: name, system: .salesforce, connections: Set(connections.keys), settings: writerSettings, kafka: kafka,
            server: server, metricsRegistry: metricsRegistry, logger: logger, clientServices: [http]
        ) { store in
            SalesforceApplier(connections: connections, store: store, retry: writerSettings.retry, logger: logger)
        }
    }
}
