import Contract
import Foundation
import Kafka
import Logging
import Synchronization

/// Latency from "ingest accepted the webhook" to "a writer reported the record written", per writer:
/// each result on `sync.results` is matched to its webhook by the event id (the webhook's unique key).
/// The commands on `crm.commands` and `erp.commands` are read too, to split it in two stages at the
/// moment the record's command was readable.
final class ResultLatencies: Sendable {
    private struct State {
        var accepted: [String: ContinuousClock.Instant] = [:]
        /// Commands read, by command id: their event id and when.
        var commands: [String: (eventID: String, at: ContinuousClock.Instant)] = [:]
        /// Result arrivals by reporter: event id, command id and when the result was read.
        var observed: [String: [(eventID: String, commandID: String?, at: ContinuousClock.Instant)]] = [:]
        var resultsRead = 0
    }

    static let topics = [Topic.syncResults] + TargetSystem.allCases.map(\.commandTopic)

    private let state = Mutex(State())

    func accepted(_ eventID: String, at instant: ContinuousClock.Instant = .now) {
        state.withLock { $0.accepted[eventID] = instant }
    }

    var resultsRead: Int { state.withLock { $0.resultsRead } }

    /// Reads `topics` until cancelled, noting when each command and each written record's result arrives.
    func follow(_ consumer: KafkaConsumer) async {
        while !Task.isCancelled {
            let batch = await consumer.poll(timeout: .milliseconds(100))
            let now = ContinuousClock.now
            var commands: [(commandID: String, eventID: String)] = []
            var arrivals: [(reporter: String, eventID: String, commandID: String?)] = []
            var results = 0
            for message in batch {
                guard let document = JSONValue.parse(message.value), let eventID = document["source"]?["event_id"]?.stringValue else { continue }
                if message.topic != Topic.syncResults {
                    if let id = document["id"]?.stringValue { commands.append((id, eventID)) }
                    continue
                }
                results += 1
                guard let reporter = document["reporter"]?.stringValue, let outcome = document["outcome"]?.stringValue,
                    outcome == "created" || outcome == "updated"
                else { continue }
                arrivals.append((reporter, eventID, document["command_id"]?.stringValue))
            }
            state.withLock { state in
                state.resultsRead += results
                for command in commands where state.commands[command.commandID] == nil { state.commands[command.commandID] = (command.eventID, now) }
                for arrival in arrivals { state.observed[arrival.reporter, default: []].append((arrival.eventID, arrival.commandID, now)) }
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

    /// The same latencies in two stages: acceptance → the command readable on its topic, and
    /// command → the writer's result.
    func stages(reporter: String) -> (toCommand: [Double], toResult: [Double]) {
        state.withLock { state in
            var toCommand: [Double] = [], toResult: [Double] = []
            for arrival in state.observed[reporter] ?? [] {
                guard let id = arrival.commandID, let command = state.commands[id], let accepted = state.accepted[arrival.eventID] else { continue }
                toCommand.append((command.at - accepted).inMilliseconds)
                toResult.append((arrival.at - command.at).inMilliseconds)
            }
            return (toCommand, toResult)
        }
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
