import Configuration
import Foundation
import Hummingbird
import Logging
import Metrics
import Prometheus
import UnixSignals

/// What a service's `build` function gets from the common start-up.
public struct ServiceContext: Sendable {
    public let name: String
    public let config: ConfigReader
    public let logger: Logger
    /// The registry `/metrics` serves; swift-metrics is bootstrapped onto it in executables.
    public let metricsRegistry: PrometheusCollectorRegistry
    private let loader: ServiceConfigurationLoader

    public init(name: String, loader: ServiceConfigurationLoader, logger: Logger, metricsRegistry: PrometheusCollectorRegistry) {
        self.name = name
        self.config = loader.reader
        self.logger = logger
        self.metricsRegistry = metricsRegistry
        self.loader = loader
    }

    /// Fails with every malformed setting read so far; call it once all settings are read.
    public func validateConfiguration() throws { try loader.validate() }
}

/// Starts every Crossbill executable the same way: configuration, JSON logs, Prometheus metrics,
/// then the service's application under graceful shutdown on SIGTERM and SIGINT.
public enum ServiceMain {
    public static func run<App: ApplicationProtocol>(
        name: String,
        build: (ServiceContext) async throws -> App
    ) async -> Never {
        let loader: ServiceConfigurationLoader
        do {
            loader = try await ServiceConfigurationLoader()
        } catch {
            exitWithError("\(name): \(error)")
        }
        let logSettings = LogSettings(config: loader.reader)
        LoggingSystem.bootstrap { label in
            switch logSettings.format {
            case .json: JSONLogHandler(label: label, level: logSettings.level)
            case .text:
                {
                    var handler = StreamLogHandler.standardOutput(label: label)
                    handler.logLevel = logSettings.level
                    return handler
                }()
            }
        }
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        var logger = Logger(label: name)
        logger[metadataKey: "service"] = "\(name)"

        let context = ServiceContext(name: name, loader: loader, logger: logger, metricsRegistry: registry)
        do {
            let app = try await build(context)
            try context.validateConfiguration()
            logger.info("starting", metadata: ["config.sources": "\(loader.sources.joined(separator: ", "))"])
            try await app.runService(gracefulShutdownSignals: [.sigterm, .sigint])
            logger.info("stopped")
            exit(0)
        } catch let error as ConfigurationError {
            exitWithError("\(name): \(error)")
        } catch {
            logger.critical("service failed", metadata: ["error": "\(error)"])
            exit(1)
        }
    }

    private static func exitWithError(_ message: String) -> Never {
        FileHandle.standardError.write(Data((message + "\n").utf8))
        exit(2)
    }
}
