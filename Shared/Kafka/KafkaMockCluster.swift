import CRdKafka
import Logging

/// librdkafka's built-in mock cluster: real Kafka protocol, consumer groups, fault injection.
/// In memory only, with a small retention per partition. For development and tests; never production.
public final class KafkaMockCluster: @unchecked Sendable {
    // @unchecked: the cluster pointer is set once; librdkafka's mock API is thread-safe.
    private let host: RDKafkaClient
    private let cluster: OpaquePointer
    public let brokerCount: Int
    /// The `host:port,…` list that clients bootstrap from.
    public let bootstrapServers: String

    public init(brokers: Int = 3, logger: Logger) throws {
        let callbacks = RDKafkaCallbacks(logger: logger, clientID: "crossbill-mock-cluster")
        // The cluster lives inside a client instance; that client itself talks to no broker.
        self.host = try RDKafkaClient(kind: .producer, properties: ["client.id": "crossbill-mock-cluster"], callbacks: callbacks)
        guard let cluster = rd_kafka_mock_cluster_new(host.handle, Int32(brokers)) else {
            throw KafkaError(code: nil, message: "cannot start a mock cluster of \(brokers) brokers")
        }
        self.cluster = cluster
        self.brokerCount = brokers
        self.bootstrapServers = String(cString: rd_kafka_mock_cluster_bootstraps(cluster))
    }

    deinit {
        rd_kafka_mock_cluster_destroy(cluster)
    }

    /// Creates a topic directly in the cluster (no Admin API round trip).
    public func createTopic(_ topic: TopicSpecification) throws {
        let error = rd_kafka_mock_topic_create(
            cluster, topic.name, Int32(topic.partitions), Int32(min(topic.replicationFactor, brokerCount)))
        guard error.isSuccess else { throw KafkaError(error, context: "cannot create mock topic \(topic.name)") }
    }

    /// Takes a broker (1…brokerCount) down: its connections close and it refuses new ones.
    public func setBrokerDown(_ id: Int32) {
        _ = rd_kafka_mock_broker_set_down(cluster, id)
    }

    public func setBrokerUp(_ id: Int32) {
        _ = rd_kafka_mock_broker_set_up(cluster, id)
    }

    /// Takes every broker down, or brings every broker back: a whole-cluster outage.
    public func setAllBrokers(up: Bool) {
        for id in 1...Int32(brokerCount) {
            up ? setBrokerUp(id) : setBrokerDown(id)
        }
    }
}
