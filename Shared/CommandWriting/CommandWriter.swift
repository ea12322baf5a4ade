import Contract
import Foundation
import Kafka
import Logging
import Metrics
import ServiceRuntime

/// Settings every writer shares.
public struct CommandWriterSettings: Sendable {
    public var system: TargetSystem
    /// The service name written into results (`crm-writer`).
    public var reporter: String
    /// Connections this writer has credentials for; commands for others fail.
    public var connections: Set<String>
    /// How long a command may wait for its parent before it fails with `parent_missing`.
    public var parkingDeadline: Duration
    /// How often a parked command is tried again, in case its parent appeared by another way.
    public var parkedRetryInterval: Duration

    public init(system: TargetSystem, reporter: String, connections: Set<String>, parkingDeadline: Duration = .seconds(3600), parkedRetryInterval: Duration = .seconds(60)) {
        self.system = system
        self.reporter = reporter
        self.connections = connections
        self.parkingDeadline = parkingDeadline
        self.parkedRetryInterval = parkedRetryInterval
    }
}

/// Applies a command topic to a target system: decodes commands, keeps at most one write per record
/// in flight, parks commands whose parent is missing and resumes them when it lands, and ends every
/// command in exactly one result on `sync.results` (failures also on the topic's DLQ).
///
/// Everything a batch produced is acknowledged by the brokers, and links and parked commands are in
/// SQLite, before `process` returns and the batch's offsets may be committed.
public final class CommandWriter: Sendable {
    private let settings: CommandWriterSettings
    private let applier: any CommandApplier
    private let store: WriterStore
    private let producer: KafkaProducer
    private let logger: Logger
    /// Batches and sweeps take turns, so one record never has two writes in flight.
    private let turn = AsyncSemaphore(permits: 1)
    private let outcomes: [SyncOutcome: Counter]
    private let parkedCounter: Counter

    public init(settings: CommandWriterSettings, applier: any CommandApplier, store: WriterStore, producer: KafkaProducer, logger: Logger) {
        self.settings = settings
        self.applier = applier
        self.store = store
        self.producer = producer
        self.logger = logger
        var outcomes: [SyncOutcome: Counter] = [:]
        for outcome in [SyncOutcome.created, .updated, .failed] {
            outcomes[outcome] = Counter(label: "writer_commands_total", dimensions: [("system", settings.system.rawValue), ("outcome", outcome.rawValue)])
        }
        self.outcomes = outcomes
        self.parkedCounter = Counter(label: "writer_commands_parked_total", dimensions: [("system", settings.system.rawValue)])
    }

    private var deadLetterTopic: String { Topic.deadLetters(of: settings.system.commandTopic) }

    /// A command in hand with the message it came in.
    private struct Pending: Sendable {
        let message: KafkaMessage
        let command: SyncCommand
        /// Set for commands taken out of the parking table.
        let parkedDeadline: Date?
    }

    public func process(_ batch: [KafkaMessage]) async throws {
        try await turn.withPermit {
            var outgoing: [KafkaOutgoingMessage] = []
            var work: [Pending] = []
            for message in batch {
                switch decode(message) {
                case .success(let command): work.append(Pending(message: message, command: command, parkedDeadline: nil))
                case .failure(let error): outgoing += failure(error, message: message, command: nil, attempts: 0)
                }
            }
            try await run(work, outgoing: outgoing)
        }
    }

    /// Fails parked commands past their deadline and tries again those parked a while ago.
    public func sweep(now: Date = Date()) async throws {
        try await turn.withPermit {
            let expired = try await store.expired(at: now)
            var outgoing: [KafkaOutgoingMessage] = []
            for parked in expired {
                let command = try? decode(parked.message).get()
                let error = ProviderError(
                    code: "parent_missing",
                    message: "\(parked.waitingFor) was not in \(settings.system.rawValue) before the parking deadline",
                    retryable: true)
                outgoing += failure(error, message: parked.message, command: command, attempts: 0)
            }
            try await producer.send(outgoing)
            try await store.forget(expired.map(\.commandID))

            let due = try await store.parked(before: now.addingTimeInterval(-settings.parkedRetryInterval.seconds))
            let retry = due.compactMap { parked in
                (try? decode(parked.message).get()).map { Pending(message: parked.message, command: $0, parkedDeadline: parked.deadline) }
            }
            try await run(retry, outgoing: [])
        }
    }

    private func run(_ initial: [Pending], outgoing initialOutgoing: [KafkaOutgoingMessage]) async throws {
        var outgoing = initialOutgoing
        var work = initial
        var settled: [String] = []
        while !work.isEmpty {
            let (round, later) = Self.splitRound(work)
            let results = await applier.apply(round.map(\.command))
            var links: [(connection: String, record: RecordKey, targetID: String)] = []
            var parked: [WriterStore.ParkedCommand] = []
            var written: [String: [RecordKey]] = [:]
            for (pending, result) in zip(round, results) {
                let command = pending.command
                switch result {
                case .written(let outcome, let targetID, let attempts):
                    links.append((command.connection, command.recordKey, targetID))
                    written[command.connection, default: []].append(command.recordKey)
                    outgoing.append(resultMessage(
                        SyncResult(
                            outcome: outcome, commandID: command.id, connection: command.connection, system: command.system,
                            object: command.object, source: command.source, targetID: targetID, attempts: attempts,
                            reporter: settings.reporter, apiUsage: applier.apiUsage(of: command.connection)),
                        after: pending.message))
                    outcomes[outcome]?.increment()
                    if pending.parkedDeadline != nil { settled.append(command.id) }
                case .failed(let error, let attempts):
                    outgoing += failure(error, message: pending.message, command: command, attempts: attempts)
                    if pending.parkedDeadline != nil { settled.append(command.id) }
                case .waiting(let parent, _):
                    parkedCounter.increment()
                    logger.debug("parked until its parent exists", metadata: ["command": "\(command.id)", "parent": "\(parent)"])
                    parked.append(WriterStore.ParkedCommand(
                        commandID: command.id, connection: command.connection, waitingFor: parent, message: pending.message,
                        deadline: pending.parkedDeadline ?? Date().addingTimeInterval(settings.parkingDeadline.seconds)))
                }
            }
            try await store.link(links)
            try await store.park(parked)
            // Each round's results go out as soon as its links are stored, not at the end of the batch.
            try await producer.send(outgoing)
            outgoing = []
            var resumed: [Pending] = []
            for (connection, records) in written {
                for parked in try await store.waiting(connection: connection, for: records) where !round.contains(where: { $0.command.id == parked.commandID }) {
                    if let command = try? decode(parked.message).get() {
                        resumed.append(Pending(message: parked.message, command: command, parkedDeadline: parked.deadline))
                    }
                }
            }
            work = later + resumed
        }
        try await producer.send(outgoing)
        try await store.forget(settled)
    }

    /// The first command of every record, in order, and the rest for later rounds.
    private static func splitRound(_ work: [Pending]) -> (round: [Pending], later: [Pending]) {
        var seen = Set<String>()
        var round: [Pending] = []
        var later: [Pending] = []
        for pending in work {
            let key = "\(pending.command.connection)\u{1F}\(pending.command.object)\u{1F}\(pending.command.externalID)"
            if seen.insert(key).inserted { round.append(pending) } else { later.append(pending) }
        }
        return (round, later)
    }

    private func decode(_ message: KafkaMessage) -> Result<SyncCommand, ProviderError> {
        let command: SyncCommand
        do throws(ContractViolation) {
            command = try MessageContract.decode(
                SyncCommand.self, value: message.value, schemaHeader: message.header(MessageHeader.dataSchema), expected: .syncCommand)
            for (text, field) in [(command.id, "id"), (command.connection, "connection"), (command.object, "object"), (command.externalID, "external_id")] {
                try MessageContract.requireText(text, field: field)
            }
        } catch {
            return .failure(error.providerError)
        }
        guard command.system == settings.system else {
            return .failure(ContractViolation(
                .invalidMessage, field: "system",
                message: "the command is for \(command.system.rawValue), but \(settings.reporter) writes to \(settings.system.rawValue)").providerError)
        }
        guard settings.connections.contains(command.connection) else {
            return .failure(ProviderError(code: "unknown_connection", message: "\(settings.reporter) has no connection named \(command.connection)"))
        }
        return .success(command)
    }

    /// A failed result, and the command on the dead-letter queue with the reason in its headers.
    private func failure(_ error: ProviderError, message: KafkaMessage, command: SyncCommand?, attempts: Int) -> [KafkaOutgoingMessage] {
        outcomes[.failed]?.increment()
        logger.warning("command failed", metadata: [
            "command": "\(command?.id ?? "-")", "object": "\(command?.object ?? "-")",
            "error.code": "\(error.code)", "error.message": "\(error.message)",
        ])
        let source = command?.source
            ?? SourceDocument(eventID: message.header(MessageHeader.id) ?? "", eventType: message.header(MessageHeader.type) ?? "unknown", billingObject: "unknown", billingID: "")
        let result = SyncResult(
            outcome: .failed, commandID: command?.id, connection: command?.connection, system: command?.system ?? settings.system,
            object: command?.object, source: source, attempts: attempts, reason: error.code, error: error, reporter: settings.reporter,
            apiUsage: command.flatMap { applier.apiUsage(of: $0.connection) })
        return [resultMessage(result, after: message), EventMessages.deadLetter(of: message, error: error, attempts: attempts)]
    }

    /// The result message of a command, keyed and traced like the command's message.
    private func resultMessage(_ result: SyncResult, after message: KafkaMessage) -> KafkaOutgoingMessage {
        let id = "\(result.commandID ?? result.source.eventID)/\(result.outcome.rawValue)"
        let key = message.key ?? []
        // Encoding plain Codable values cannot fail; fall back to an empty object rather than crash.
        return (try? EventMessages.json(
            result, topic: Topic.syncResults, key: key, id: id, type: CrossbillEventType.syncResult,
            source: "/crossbill/\(settings.reporter)", schema: .syncResult,
            traceParent: message.header(MessageHeader.traceParent) ?? ""))
            ?? KafkaOutgoingMessage(topic: Topic.syncResults, key: key, value: Array("{}".utf8))
    }
}

extension Duration {
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
