import Foundation
import Metrics

/// Turns librdkafka's statistics JSON (`statistics.interval.ms`) into swift-metrics gauges.
struct KafkaStatisticsExporter: Sendable {
    let clientID: String

    private struct Statistics: Decodable {
        struct Broker: Decodable {
            struct Window: Decodable { let avg: Int64 }
            let nodeid: Int32
            let rtt: Window?
        }
        struct Topic: Decodable {
            struct Partition: Decodable {
                let partition: Int32
                let consumer_lag: Int64?
            }
            let partitions: [String: Partition]
        }
        let msg_cnt: Int64
        let msg_size: Int64
        let txmsgs: Int64
        let rxmsgs: Int64
        let brokers: [String: Broker]?
        let topics: [String: Topic]?
    }

    func export(_ json: Data) {
        guard let stats = try? JSONDecoder().decode(Statistics.self, from: json) else { return }
        let client = [("client_id", clientID)]
        Gauge(label: "kafka_client_queued_messages", dimensions: client).record(stats.msg_cnt)
        Gauge(label: "kafka_client_queued_bytes", dimensions: client).record(stats.msg_size)
        Gauge(label: "kafka_client_transmitted_messages", dimensions: client).record(stats.txmsgs)
        Gauge(label: "kafka_client_received_messages", dimensions: client).record(stats.rxmsgs)
        for broker in (stats.brokers ?? [:]).values where broker.nodeid >= 0 {
            if let rtt = broker.rtt {
                Gauge(label: "kafka_broker_rtt_seconds", dimensions: client + [("broker", String(broker.nodeid))])
                    .record(Double(rtt.avg) / 1_000_000)
            }
        }
        for (name, topic) in stats.topics ?? [:] {
            // librdkafka reports -1 where the lag is unknown (partitions this member does not consume).
            let lag = topic.partitions.values.compactMap(\.consumer_lag).filter { $0 >= 0 }
            guard !lag.isEmpty else { continue }
            Gauge(label: "kafka_consumer_lag_messages", dimensions: client + [("topic", name)]).record(lag.reduce(0, +))
        }
    }
}
