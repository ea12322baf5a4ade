import Configuration
import Contract
import ServiceRuntime

/// A connection transform writes commands for.
public struct TransformConnectionSettings: Sendable {
    public var name: String
    public var system: TargetSystem
    /// Organization ids (as in message keys) whose events go to this connection; empty means all.
    public var organizations: [String]
    /// The connection's own mapping file, merged over the defaults.
    public var mappingFile: String?

    public init(name: String, system: TargetSystem, organizations: [String] = [], mappingFile: String? = nil) {
        self.name = name
        self.system = system
        self.organizations = organizations
        self.mappingFile = mappingFile
    }
}

/// Settings of the transform service.
public struct TransformConfiguration: Sendable {
    public var connections: [TransformConnectionSettings]
    public var databasePath: String
    public var consumerGroup: String

    public init(connections: [TransformConnectionSettings], databasePath: String = "var/transform/transform.sqlite", consumerGroup: String = "crossbill-transform") {
        self.connections = connections
        self.databasePath = databasePath
        self.consumerGroup = consumerGroup
    }

    /// Reads the `transform.*` keys:
    /// - `transform.connections` (string list, required): connection names, e.g. `salesforce-main,netsuite-main`
    /// - per name N: `transform.connection.N.system` (`salesforce` or `netsuite`, required),
    ///   `transform.connection.N.organizations` (list; default all), `transform.connection.N.mappingFile`
    /// - `transform.databasePath` (default `var/transform/transform.sqlite`),
    ///   `transform.consumerGroup` (default `crossbill-transform`)
    public init(config: ConfigReader) throws {
        var problems: [String] = []
        let names = config.stringArray(forKey: "transform.connections", default: [])
        if names.isEmpty { problems.append("transform.connections: name at least one connection") }
        var connections: [TransformConnectionSettings] = []
        for name in names {
            let scoped = config.scoped(to: ConfigKey(["transform", "connection", name]))
            let systemName = scoped.string(forKey: "system", default: "")
            guard let system = TargetSystem(rawValue: systemName) else {
                problems.append("transform.connection.\(name).system: expected salesforce or netsuite, not \"\(systemName)\"")
                continue
            }
            connections.append(TransformConnectionSettings(
                name: name, system: system,
                organizations: scoped.stringArray(forKey: "organizations", default: []),
                mappingFile: scoped.string(forKey: "mappingFile")))
        }
        guard problems.isEmpty else { throw ConfigurationError(problems: problems) }
        self.init(
            connections: connections,
            databasePath: config.string(forKey: "transform.databasePath", default: "var/transform/transform.sqlite"),
            consumerGroup: config.string(forKey: "transform.consumerGroup", default: "crossbill-transform"))
    }

    /// Loads every connection's mappings; every mistake is reported at once, with file and line.
    public func loadConnections() throws -> [MappedConnection] {
        var problems: [String] = []
        var loaded: [MappedConnection] = []
        for connection in connections {
            do {
                let mappings = try MappingLoader.load(system: connection.system, overridePath: connection.mappingFile)
                loaded.append(MappedConnection(
                    name: connection.name, system: connection.system, organizations: Set(connection.organizations), mappings: mappings))
            } catch {
                problems.append("transform.connection.\(connection.name).mappingFile: \(error)")
            }
        }
        guard problems.isEmpty else { throw ConfigurationError(problems: problems) }
        return loaded
    }
}
