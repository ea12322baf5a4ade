/// Settings shared by every Kafka client of a process.
public struct KafkaClientConfiguration: Sendable {
    /// Comma-separated `host:port` list of brokers to bootstrap from.
    public var bootstrapServers: String
    /// `client.id` reported to the brokers; shows up in broker logs and quotas.
    public var clientID: String
    /// How often librdkafka reports statistics, which are exported as metrics. Zero turns them off.
    public var statisticsInterval: Duration
    /// Raw librdkafka properties (e.g. `security.protocol`, `sasl.mechanisms`), applied last.
    public var additionalProperties: [String: String]
    /// Consumers: how long a fetch may wait at the broker for new messages (`fetch.wait.max.ms`). A
    /// real broker answers as soon as a message arrives; the development broker waits the whole time,
    /// so local runs shorten it. Nil keeps librdkafka's default (500 ms).
    public var fetchWait: Duration?
    /// Producers: requests in flight per broker connection (`max.in.flight.requests.per.connection`).
    /// Nil keeps librdkafka's default (5). The development broker holds an idempotent producer's
    /// batch for about 45 ms when a second request of the same connection is in flight, so local runs
    /// use 1.
    public var maxInFlight: Int?

    public init(
        bootstrapServers: String,
        clientID: String = "crossbill",
        statisticsInterval: Duration = .seconds(15),
        additionalProperties: [String: String] = [:],
        fetchWait: Duration? = nil,
        maxInFlight: Int? = nil
    ) {
        self.bootstrapServers = bootstrapServers
        self.clientID = clientID
        self.statisticsInterval = statisticsInterval
        self.fetchWait = fetchWait
        self.maxInFlight = maxInFlight
        self.additionalProperties = additionalProperties
    }

    var properties: [String: String] {
        ["bootstrap.servers": bootstrapServers,
         "client.id": clientID,
         "statistics.interval.ms": String(statisticsInterval.milliseconds)]
    }
}

/// Settings of an idempotent, `acks=all` producer.
public struct KafkaProducerConfiguration: Sendable {
    public var client: KafkaClientConfiguration
    /// How long a message may wait for the brokers' acknowledgement before its send fails
    /// (`delivery.timeout.ms`). The caller must then treat the message as not stored; in the rare case
    /// that only the acknowledgement was lost, a retry stores it twice with the same `ce_id`.
    public var deliveryTimeout: Duration
    /// How long the producer waits to fill a batch (`linger.ms`).
    public var linger: Duration
    /// Upper bound of messages waiting in the local queue (`queue.buffering.max.messages`).
    public var maximumQueuedMessages: Int

    public init(
        client: KafkaClientConfiguration,
        deliveryTimeout: Duration = .seconds(10),
        linger: Duration = .milliseconds(2),
        maximumQueuedMessages: Int = 100_000
    ) {
        self.client = client
        self.deliveryTimeout = deliveryTimeout
        self.linger = linger
        self.maximumQueuedMessages = maximumQueuedMessages
    }

    var properties: [String: String] {
        client.properties.merging([
            "enable.idempotence": "true",
            "acks": "all",
            "delivery.timeout.ms": String(deliveryTimeout.milliseconds),
            "linger.ms": String(linger.milliseconds),
            "queue.buffering.max.messages": String(maximumQueuedMessages),
            "compression.type": "lz4",
        ].merging(client.maxInFlight.map { ["max.in.flight.requests.per.connection": String($0)] } ?? [:]) { _, new in new }) { _, new in new }
        .merging(client.additionalProperties) { _, new in new }
    }
}

/// Settings of a consumer-group member that commits only what its caller marked done.
public struct KafkaConsumerConfiguration: Sendable {
    public enum OffsetReset: String, Sendable {
        case earliest, latest
    }

    public var client: KafkaClientConfiguration
    /// The consumer group (`group.id`); replicas with the same group share the partitions.
    public var groupID: String
    public var topics: [String]
    /// Where a group without a committed offset starts.
    public var offsetReset: OffsetReset
    /// How often offsets of messages marked done are committed in the background.
    public var commitInterval: Duration
    /// Messages fetched per poll, handed out one by one.
    public var batchSize: Int
    /// The broker considers a member dead when it sends no heartbeat for this long.
    public var sessionTimeout: Duration
    /// How long `close()` may take to commit and leave the group before it gives up.
    public var closeTimeout: Duration

    public init(
        client: KafkaClientConfiguration,
        groupID: String,
        topics: [String],
        offsetReset: OffsetReset = .earliest,
        commitInterval: Duration = .seconds(1),
        batchSize: Int = 500,
        sessionTimeout: Duration = .seconds(45),
        closeTimeout: Duration = .seconds(10)
    ) {
        self.client = client
        self.groupID = groupID
        self.topics = topics
        self.offsetReset = offsetReset
        self.commitInterval = commitInterval
        self.batchSize = batchSize
        self.sessionTimeout = sessionTimeout
        self.closeTimeout = closeTimeout
    }

    var properties: [String: String] {
        client.properties.merging([
            "group.id": groupID,
            "auto.offset.reset": offsetReset.rawValue,
            "enable.auto.commit": "true",
            "enable.auto.offset.store": "false",
            "auto.commit.interval.ms": String(commitInterval.milliseconds),
            "session.timeout.ms": String(sessionTimeout.milliseconds),
            "partition.assignment.strategy": "cooperative-sticky",
        ].merging(client.fetchWait.map { ["fetch.wait.max.ms": String($0.milliseconds)] } ?? [:]) { _, new in new }) { _, new in new }
        .merging(client.additionalProperties) { _, new in new }
    }
}

extension Duration {
    /// Whole milliseconds, as librdkafka and libcurl take them.
    package var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
