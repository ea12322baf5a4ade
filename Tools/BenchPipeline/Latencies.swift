import Contract
import Foundation
import Kafka
import Logging
import Synchronization

/// Latency from "ingest accepted the webhook" to "a writer reported the record written", per writer:
/// each result on `sync.results` is matched to its webhook by the event id (the webhook's unique key).
/// The commands on `crm.commands` and `erp.commands` are read too, to split it in two stages at the
/// moment the record's command was readable. Messages are kept as read and parsed afterwards, so the
/// measurement takes little CPU from the pipeline it measures.
final class ResultLatencies: Sendable {
    private struct State {
        var accepted: [String: ContinuousClock.Instant] = [:]
        var arrivals: [(topic: String, value: [UInt8], at: ContinuousClock.Instant)] = []
        var resultsRead = 0
        var parsed: Parsed?
    }

    private struct Parsed {
        /// Commands read, by command id: their event id and when.
        var commands: [String: (eventID: String, at: ContinuousClock.Instant)] = [:]
        /// Result arrivals by reporter: event id, command id and when the result was read.
        var observed: [String: [(eventID: String, commandID: String?, at: ContinuousClock.Instant)]] = [:]
    }

    static let topics = [Topic.syncResults] + TargetSystem.allCases.map(\.commandTopic)

    private let state = Mutex(State())

    func accepted(_ eventID: String, at instant: ContinuousClock.Instant = .now) {
        state.withLock { $0.accepted[eventID] = instant }
    }

    var resultsRead: Int { state.withLock { $0.resultsRead } }

    /// Reads `topics` until cancelled, keeping each message with the moment it arrived.
    func follow(_ consumer: KafkaConsumer) async {
        while !Task.isCancelled {
            let batch = await consumer.poll(timeout: .milliseconds(100))
            let now = ContinuousClock.now
            state.withLock { state in
                state.resultsRead += batch.count { $0.topic == Topic.syncResults }
                state.arrivals += batch.map { ($0.topic, $0.value, now) }
                if !batch.isEmpty { state.parsed = nil }
            }
        }
    }

    /// Milliseconds from acceptance to each written record's result, for one reporter.
    func samples(reporter: String) -> [Double] {
        state.withLock { state in
            let parsed = Self.parsed(&state)
            return (parsed.observed[reporter] ?? []).compactMap { arrival in
                state.accepted[arrival.eventID].map { (arrival.at - $0).inMilliseconds }
            }
        }
    }

    /// The same latencies in two stages: acceptance → the command readable on its topic, and
    /// command → the writer's result.
    func stages(reporter: String) -> (toCommand: [Double], toResult: [Double]) {
        state.withLock { state in
            let parsed = Self.parsed(&state)
            var toCommand: [Double] = [], toResult: [Double] = []
            for arrival in parsed.observed[reporter] ?? [] {
                guard let id = arrival.commandID, let command = parsed.commands[id], let accepted = state.accepted[arrival.eventID] else { continue }
                toCommand.append((command.at - accepted).inMilliseconds)
                toResult.append((arrival.at - command.at).inMilliseconds)
            }
            return (toCommand, toResult)
        }
    }

    /// The messages read so far, parsed once.
    private static func parsed(_ state: inout State) -> Parsed {
        if let parsed = state.parsed { return parsed }
        var parsed = Parsed()
        for arrival in state.arrivals {
            guard let document = JSONValue.parse(arrival.value), let eventID = document["source"]?["event_id"]?.stringValue else { continue }
            if arrival.topic != Topic.syncResults {
                if let id = document["id"]?.stringValue, parsed.commands[id] == nil { parsed.commands[id] = (eventID, arrival.at) }
                continue
            }
            guard let reporter = document["reporter"]?.stringValue, let outcome = document["outcome"]?.stringValue,
                outcome == "created" || outcome == "updated"
            else { continue }
            parsed.observed[reporter, default: []].append((eventID, document["command_id"]?.stringValue, arrival.at))
        }
        state.parsed = parsed
        return parsed
    }
}

/// A writer's latency in its two stages.
struct StageLatencies: Encodable {
    /// Webhook accepted → the record's command readable on the writer's topic (ingest and transform).
    let toCommand: LatencySummary
    /// Command readable → the writer's result readable (the writer and the provider).
    let commandToResult: LatencySummary

    init(_ stages: (toCommand: [Double], toResult: [Double])) {
        toCommand = LatencySummary(stages.toCommand)
        commandToResult = LatencySummary(stages.toResult)
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
