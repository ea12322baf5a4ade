import Contract
import Foundation
import Kafka
import Logging
import Synchronization

/// Latency from "ingest accepted the webhook" to "a writer reported the record written", per writer:
/// each result on `sync.results` is matched to its webhook by the event id (the webhook's unique key).
final class ResultLatencies: Sendable {
    private struct State {
        var accepted: [String: ContinuousClock.Instant] = [:]
        /// Result arrivals by reporter: event id and when the result was read.
        var observed: [String: [(eventID: String, at: ContinuousClock.Instant)]] = [:]
        var resultsRead = 0
    }

    private let state = Mutex(State())

    func accepted(_ eventID: String, at instant: ContinuousClock.Instant = .now) {
        state.withLock { $0.accepted[eventID] = instant }
    }

    var resultsRead: Int { state.withLock { $0.resultsRead } }

    /// Reads `sync.results` until cancelled, noting when each written record's result arrives.
    func follow(_ consumer: KafkaConsumer) async {
        while !Task.isCancelled {
            let batch = await consumer.poll(timeout: .milliseconds(100))
            let now = ContinuousClock.now
            var arrivals: [(String, String)] = []
            for message in batch {
                guard let result = JSONValue.parse(message.value), let reporter = result["reporter"]?.stringValue,
                    let outcome = result["outcome"]?.stringValue, outcome == "created" || outcome == "updated",
                    let eventID = result["source"]?["event_id"]?.stringValue
                else { continue }
                arrivals.append((reporter, eventID))
            }
            state.withLock { state in
                state.resultsRead += batch.count
                for (reporter, eventID) in arrivals { state.observed[reporter, default: []].append((eventID, now)) }
            }
        }
    }

    /// Milliseconds from acceptance to each written record's result, for one reporter.
    func samples(reporter: String) -> [Double] {
        state.withLock { state in
            (state.observed[reporter] ?? []).compactMap { arrival in
                state.accepted[arrival.eventID].map { (arrival.at - $0).inMilliseconds }
            }
        }
    }
}

/// p50, p95 and p99 of a sample, in milliseconds.
struct LatencySummary: Encodable {
    let samples: Int
    let p50: Double
    let p95: Double
    let p99: Double
    let max: Double

    init(_ values: [Double]) {
        let sorted = values.sorted()
        func percentile(_ fraction: Double) -> Double {
            guard !sorted.isEmpty else { return 0 }
            return sorted[Swift.max(0, Int((fraction * Double(sorted.count)).rounded(.up)) - 1)]
        }
        samples = sorted.count
        p50 = percentile(0.50)
        p95 = percentile(0.95)
        p99 = percentile(0.99)
        max = sorted.last ?? 0
    }
}

extension Duration {
    var inMilliseconds: Double {
        Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15
    }

    var inSeconds: Double { inMilliseconds / 1000 }
}
