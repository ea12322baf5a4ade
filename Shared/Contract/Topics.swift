/// The Kafka topics of Crossbill's data flow (DESIGN.md §1–2).
public enum Topic {
    public static let billingEvents = "billing.events"
    public static let crmEvents = "crm.events"
    public static let crmCommands = "crm.commands"
    public static let erpCommands = "erp.commands"
    public static let billingCommands = "billing.commands"
    public static let syncResults = "sync.results"
    public static let providerErrorAlerts = "alerts.provider-errors"

    /// Every topic the services use, dead-letter queues included.
    public static let all: [String] = [
        billingEvents, crmEvents, crmCommands, erpCommands, billingCommands, syncResults, providerErrorAlerts,
        deadLetters(of: billingEvents), deadLetters(of: crmCommands), deadLetters(of: erpCommands),
        deadLetters(of: billingCommands), deadLetters(of: syncResults),
    ]

    /// How long a topic keeps its messages: long enough to replay a week of traffic after an outage;
    /// dead letters a month, time to fix the cause and replay them.
    public static func retentionMilliseconds(of topic: String) -> Int64 {
        let day: Int64 = 86_400_000
        return topic.hasSuffix(".dlq") ? 30 * day : 7 * day
    }

    /// The dead-letter queue of a consumed topic: messages that failed, with the reason in headers.
    public static func deadLetters(of topic: String) -> String { "\(topic).dlq" }
}

/// How topics are laid out when the project's tooling creates them.
public struct TopicLayout: Sendable, Equatable {
    public var partitions: Int
    public var replicationFactor: Int
    public var minInSyncReplicas: Int

    public init(partitions: Int, replicationFactor: Int, minInSyncReplicas: Int) {
        self.partitions = partitions
        self.replicationFactor = replicationFactor
        self.minInSyncReplicas = minInSyncReplicas
    }

    /// Production defaults: 12 partitions, three replicas, two of which must acknowledge every write.
    public static let production = TopicLayout(partitions: 12, replicationFactor: 3, minInSyncReplicas: 2)

    /// Topic-level configs of `topic` under this layout. No topic is compacted: keys name a customer,
    /// so compaction would keep only a customer's last message and lose the others.
    public func configs(for topic: String) -> [String: String] {
        [
            "min.insync.replicas": String(minInSyncReplicas),
            "cleanup.policy": "delete",
            "retention.ms": String(Topic.retentionMilliseconds(of: topic)),
        ]
    }
}
