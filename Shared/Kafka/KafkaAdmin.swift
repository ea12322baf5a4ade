import CRdKafka
import Logging

/// What a topic should look like when it is created.
public struct TopicSpecification: Sendable, Hashable {
    public var name: String
    public var partitions: Int
    public var replicationFactor: Int
    /// Topic-level configs, e.g. `min.insync.replicas`, `retention.ms`, `cleanup.policy`.
    public var configs: [String: String]

    public init(name: String, partitions: Int, replicationFactor: Int, configs: [String: String] = [:]) {
        self.name = name
        self.partitions = partitions
        self.replicationFactor = replicationFactor
        self.configs = configs
    }
}

/// Creates topics through the Kafka Admin API.
public struct KafkaAdmin: Sendable {
    public enum CreationOutcome: Sendable, Equatable {
        case created
        /// The topic existed already; its partitions and configs were left as they are.
        case alreadyExisted
    }

    private let client: RDKafkaClient

    public init(configuration: KafkaClientConfiguration, logger: Logger) throws {
        let callbacks = RDKafkaCallbacks(logger: logger, clientID: configuration.clientID)
        let properties = configuration.properties.merging(configuration.additionalProperties) { _, new in new }
        self.client = try RDKafkaClient(kind: .producer, properties: properties, callbacks: callbacks)
    }

    /// Creates the topics; an existing topic is reported, not an error. Throws on the first real failure.
    public func createTopics(_ topics: [TopicSpecification], timeout: Duration = .seconds(30)) async throws
        -> [String: CreationOutcome]
    {
        try await runBlocking { [client] in try Self.createTopics(topics, timeout: timeout, client: client) }
    }

    private static func createTopics(_ topics: [TopicSpecification], timeout: Duration, client: RDKafkaClient) throws
        -> [String: CreationOutcome]
    {
        var errorText = [CChar](repeating: 0, count: 512)
        var newTopics: [OpaquePointer?] = []
        defer { newTopics.forEach { rd_kafka_NewTopic_destroy($0) } }
        for topic in topics {
            guard let newTopic = rd_kafka_NewTopic_new(
                topic.name, Int32(topic.partitions), Int32(topic.replicationFactor), &errorText, errorText.count)
            else {
                throw KafkaError(code: nil, message: "invalid topic \(topic.name): \(String(cBuffer: errorText))")
            }
            newTopics.append(newTopic)
            for (name, value) in topic.configs.sorted(by: { $0.key < $1.key }) {
                let error = rd_kafka_NewTopic_set_config(newTopic, name, value)
                guard error.isSuccess else { throw KafkaError(error, context: "topic \(topic.name) config \(name)") }
            }
        }
        let resultQueue = rd_kafka_queue_new(client.handle)
        defer { rd_kafka_queue_destroy(resultQueue) }
        let options = rd_kafka_AdminOptions_new(client.handle, RD_KAFKA_ADMIN_OP_CREATETOPICS)
        defer { rd_kafka_AdminOptions_destroy(options) }
        _ = rd_kafka_AdminOptions_set_operation_timeout(options, Int32(timeout.milliseconds), &errorText, errorText.count)
        _ = rd_kafka_AdminOptions_set_request_timeout(options, Int32(timeout.milliseconds), &errorText, errorText.count)

        rd_kafka_CreateTopics(client.handle, &newTopics, newTopics.count, options, resultQueue)
        guard let event = rd_kafka_queue_poll(resultQueue, Int32(timeout.milliseconds) + 1000) else {
            throw KafkaError(code: nil, message: "no answer to CreateTopics within \(timeout)")
        }
        defer { rd_kafka_event_destroy(event) }
        let requestError = rd_kafka_event_error(event)
        guard requestError.isSuccess else {
            throw KafkaError(code: requestError.rawValue, message: String(cString: rd_kafka_event_error_string(event)))
        }
        var count = 0
        guard let results = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event), &count) else {
            return [:]
        }
        var outcomes: [String: CreationOutcome] = [:]
        for index in 0..<count {
            let result = results[index]
            let name = String(cString: rd_kafka_topic_result_name(result))
            switch rd_kafka_topic_result_error(result) {
            case RD_KAFKA_RESP_ERR_NO_ERROR: outcomes[name] = .created
            case RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS: outcomes[name] = .alreadyExisted
            case let error:
                let detail = rd_kafka_topic_result_error_string(result).map { String(cString: $0) } ?? ""
                throw KafkaError(code: error.rawValue, message: "cannot create topic \(name): \(detail)")
            }
        }
        return outcomes
    }
}
