import Contract

/// A target system's side of a writer: applies commands to Salesforce or NetSuite.
public protocol CommandApplier: Sendable {
    /// Writes `commands`, at most one per record, retrying transient failures itself. Returns one
    /// outcome per command, in the same order.
    func apply(_ commands: [SyncCommand]) async -> [CommandOutcome]

    /// The connection's API budget as last reported by the provider, for the results; nil where the
    /// provider reports none.
    func apiUsage(of connection: String) -> APIUsage?
}

extension CommandApplier {
    public func apiUsage(of connection: String) -> APIUsage? { nil }
}

/// How one command ended in the target system.
public enum CommandOutcome: Sendable {
    /// Written; `outcome` is `created` or `updated`.
    case written(SyncOutcome, targetID: String, attempts: Int)
    case failed(ProviderError, attempts: Int)
    /// A parent the record points at is not in the target system yet.
    case waiting(for: RecordKey, attempts: Int)
}

/// A record of a connection's target system, by object and external ID.
public struct RecordKey: Sendable, Hashable, Codable, CustomStringConvertible {
    public var object: String
    public var externalID: String

    public init(object: String, externalID: String) {
        self.object = object
        self.externalID = externalID
    }

    public var description: String { "\(object) \(externalID)" }
}

extension SyncCommand {
    public var recordKey: RecordKey { RecordKey(object: object, externalID: externalID) }
}

extension Array where Element == SyncCommand {
    /// The commands' objects in levels: every object comes after the objects its commands reference,
    /// so parents are written before their children. A reference cycle ends up in one level.
    public func parentFirstLevels() -> [Set<String>] {
        let objects = Set(map(\.object))
        var parents: [String: Set<String>] = [:]
        for command in self {
            for reference in command.references where objects.contains(reference.object) && reference.object != command.object {
                parents[command.object, default: []].insert(reference.object)
            }
        }
        var levels: [Set<String>] = []
        var placed = Set<String>()
        while placed.count < objects.count {
            var level = objects.subtracting(placed).filter { parents[$0, default: []].isSubset(of: placed) }
            if level.isEmpty { level = objects.subtracting(placed) }
            levels.append(level)
            placed.formUnion(level)
        }
        return levels
    }
}
