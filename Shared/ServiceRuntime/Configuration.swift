import Configuration
import Foundation
import Synchronization
import SystemPackage

/// Loads a service's configuration: environment variables override the JSON file named by
/// `CROSSBILL_CONFIG` (or `--config <path>`), which overrides the built-in defaults.
///
/// Keys are dotted (`kafka.bootstrapServers`); the environment spells them in upper snake case
/// (`KAFKA_BOOTSTRAP_SERVERS`), the file as nested objects.
public struct ServiceConfigurationLoader: Sendable {
    public static let fileVariable = "CROSSBILL_CONFIG"

    /// Where the configuration came from, for the start-up log line.
    public let sources: [String]
    public let reader: ConfigReader
    private let problems: ConfigurationProblems

    public init(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        arguments: [String] = CommandLine.arguments
    ) async throws {
        var providers: [any ConfigProvider] = [
            EnvironmentVariablesProvider(environmentVariables: environment, secretsSpecifier: .dynamic { key, _ in
                ConfigurationProblems.looksSecret(key)
            })
        ]
        var sources = ["environment"]
        if let path = Self.filePath(environment: environment, arguments: arguments) {
            guard FileManager.default.fileExists(atPath: path) else {
                throw ConfigurationError(problems: ["configuration file \(path) does not exist"])
            }
            do {
                providers.append(try await FileProvider<JSONSnapshot>(filePath: .init(path)))
            } catch {
                throw ConfigurationError(problems: ["configuration file \(path) is not valid JSON: \(error)"])
            }
            sources.append(path)
        }
        let problems = ConfigurationProblems()
        self.problems = problems
        self.sources = sources
        self.reader = ConfigReader(providers: providers, accessReporter: problems)
    }

    /// A loader over fixed values, for tests and embedding.
    public init(values: [String: String]) {
        let problems = ConfigurationProblems()
        self.problems = problems
        self.sources = ["values"]
        self.reader = ConfigReader(
            provider: EnvironmentVariablesProvider(environmentVariables: values),
            accessReporter: problems
        )
    }

    /// Throws if any value read so far was present but malformed (a port that is not a number, say).
    /// Call it after every setting was read, so the error lists all of them at once.
    public func validate() throws {
        let found = problems.all
        if !found.isEmpty { throw ConfigurationError(problems: found) }
    }

    private static func filePath(environment: [String: String], arguments: [String]) -> String? {
        if let index = arguments.firstIndex(of: "--config"), index + 1 < arguments.count {
            return arguments[index + 1]
        }
        return environment[fileVariable].flatMap { $0.isEmpty ? nil : $0 }
    }
}

/// A configuration that cannot be used, with every reason found.
public struct ConfigurationError: Error, CustomStringConvertible {
    public let problems: [String]

    public init(problems: [String]) {
        self.problems = problems
    }

    public var description: String {
        "invalid configuration:\n" + problems.map { "  - \($0)" }.joined(separator: "\n")
    }
}

/// Collects the keys whose value was present but could not be converted, which the reader would
/// otherwise silently replace by the default.
final class ConfigurationProblems: AccessReporter, Sendable {
    private let found = Mutex<[String]>([])

    var all: [String] { found.withLock { $0 } }

    func report(_ event: AccessEvent) {
        let key = event.metadata.key.components.joined(separator: ".")
        if let error = event.conversionError {
            record("\(key): \(error)")
        }
        for result in event.providerResults {
            if case .failure(let error) = result.result {
                record("\(key) (from \(result.providerName)): \(error)")
            }
        }
    }

    func record(_ problem: String) {
        found.withLock { $0.append(problem) }
    }

    /// Environment variables that hold secrets are redacted from access reports.
    static func looksSecret(_ key: String) -> Bool {
        let upper = key.uppercased()
        return ["SECRET", "PASSWORD", "KEY", "TOKEN"].contains { upper.contains($0) }
    }
}

extension ConfigReader {
    /// A duration given in milliseconds under `key`.
    public func milliseconds(forKey key: ConfigKey, default defaultValue: Duration) -> Duration {
        int(forKey: key).map { .milliseconds($0) } ?? defaultValue
    }
}
