import CommandWriting
import Contract
import Foundation
import Logging
import SalesforceClient
import Synchronization

/// A Salesforce connection as the writer uses it.
struct SalesforceConnection: Sendable {
    let client: SalesforceClient
    let tuning: SalesforceConnectionTuning
}

/// Writes commands to Salesforce with sObject Collections, up to 200 records of one object each and up
/// to five of them in one composite call, parents before children, with per-record results.
final class SalesforceApplier: CommandApplier {
    static let maximumRecordsPerCall = 200

    let connections: [String: SalesforceConnection]
    let store: WriterStore
    let retry: RetryPolicy
    let logger: Logger
    /// Ids found by field matches (the standard price book), per connection.
    private let matchedIDs = Mutex<[String: String]>([:])

    func apiUsage(of connection: String) -> APIUsage? {
        connections[connection]?.client.apiUsage.map { APIUsage(used: $0.used, allocation: $0.maximum) }
    }

    init(connections: [String: SalesforceConnection], store: WriterStore, retry: RetryPolicy, logger: Logger) {
        self.connections = connections
        self.store = store
        self.retry = retry
        self.logger = logger
    }

    func apply(_ commands: [SyncCommand]) async -> [CommandOutcome] {
        var outcomes = [CommandOutcome?](repeating: nil, count: commands.count)
        let byConnection = Dictionary(grouping: commands.indices, by: { commands[$0].connection })
        await withTaskGroup(of: [(Int, CommandOutcome)].self) { group in
            for (name, indices) in byConnection {
                group.addTask { [self] in
                    guard let connection = connections[name] else {
                        return indices.map { ($0, .failed(ProviderError(code: "unknown_connection", message: "no Salesforce connection \(name)"), attempts: 0)) }
                    }
                    return await apply(indices.map { ($0, commands[$0]) }, connection: connection, name: name)
                }
            }
            for await finished in group {
                for (index, outcome) in finished { outcomes[index] = outcome }
            }
        }
        return outcomes.map { $0 ?? .failed(ProviderError(code: "internal", message: "no outcome"), attempts: 0) }
    }

    /// One connection's commands in chunks of one object and operation, parents' chunks first. Chunks
    /// go out up to five to a composite call, and the calls one after another: Salesforce runs a
    /// call's subrequests in order, so every parent is written before its children's references are read.
    private func apply(_ commands: [(Int, SyncCommand)], connection: SalesforceConnection, name: String) async -> [(Int, CommandOutcome)] {
        var chunks: [[(Int, SyncCommand)]] = []
        for level in commands.map(\.1).parentFirstLevels() {
            let groups = Dictionary(grouping: commands.filter { level.contains($0.1.object) }) { entry in
                "\(entry.1.object)\u{1F}\(entry.1.recordID == nil ? "upsert" : "update")"
            }
            for (_, members) in groups.sorted(by: { $0.key < $1.key }) {
                chunks += stride(from: 0, to: members.count, by: Self.maximumRecordsPerCall).map {
                    Array(members[$0..<min($0 + Self.maximumRecordsPerCall, members.count)])
                }
            }
        }
        var results: [(Int, CommandOutcome)] = []
        for first in stride(from: 0, to: chunks.count, by: SalesforceClient.maximumWritesPerComposite) {
            results += await write(Array(chunks[first..<min(first + SalesforceClient.maximumWritesPerComposite, chunks.count)]), connection: connection, name: name)
        }
        return results
    }

    /// A command being written, and whether to leave out its create-only references this time.
    private struct Entry {
        let index: Int
        let command: SyncCommand
        var omitCreateOnly = false
    }

    /// Writes chunks (each one object, one operation) in one call, retrying what is worth retrying.
    private func write(_ chunks: [[(Int, SyncCommand)]], connection: SalesforceConnection, name: String) async -> [(Int, CommandOutcome)] {
        var pending = chunks.map { $0.map { Entry(index: $0.0, command: $0.1) } }
        var finished: [(Int, CommandOutcome)] = []
        var attempt = 0
        var limitWaitStarted: ContinuousClock.Instant?
        while !pending.isEmpty {
            attempt += 1
            var writes: [SalesforceCollectionWrite] = []
            var sent: [[Entry]] = []
            for chunk in pending {
                var records: [[String: JSONValue]] = []
                var sendable: [Entry] = []
                for entry in chunk {
                    switch await record(for: entry.command, omitCreateOnly: entry.omitCreateOnly, connection: connection, name: name) {
                    case .success(let record):
                        records.append(record)
                        sendable.append(entry)
                    case .failure(let error):
                        finished.append((entry.index, .failed(error, attempts: attempt)))
                    }
                }
                guard let first = sendable.first else { continue }
                let field = first.command.recordID == nil ? first.command.externalIDField ?? "" : nil
                writes.append(SalesforceCollectionWrite(object: first.command.object, externalIDField: field, records: records))
                sent.append(sendable)
            }
            guard !writes.isEmpty else { break }
            await connection.tuning.pauseIfNearBudget(connection.client, logger: logger)
            let call: Result<[Result<[SalesforceRecordResult], SalesforceCallError>], SalesforceCallError>
            do throws(SalesforceCallError) {
                call = .success(try await connection.client.write(writes))
            } catch {
                call = .failure(error)
            }
            var again: [[Entry]] = []
            switch call {
            case .failure(.requestLimitExceeded(let message)):
                let started = limitWaitStarted ?? .now
                limitWaitStarted = started
                if ContinuousClock.now - started < connection.tuning.limitPauseMaximum {
                    logger.warning("Salesforce API limit reached; pausing the connection", metadata: ["connection": "\(name)", "message": "\(message)"])
                    attempt -= 1
                    try? await Task.sleep(for: connection.tuning.limitPause)
                    again = sent
                } else {
                    let error = ProviderError(code: "REQUEST_LIMIT_EXCEEDED", message: message, httpStatus: 403, retryable: true)
                    finished += sent.joined().map { ($0.index, .failed(error, attempts: attempt)) }
                }
            case .failure(let error):
                again = sent.compactMap { settle($0, call: .failure(error), attempt: attempt, name: name, finished: &finished) }
            case .success(let outcomes):
                again = zip(sent, outcomes).compactMap { settle($0, call: $1, attempt: attempt, name: name, finished: &finished) }
            }
            pending = again
            if !pending.isEmpty, attempt > 0 { try? await Task.sleep(for: retry.delay(afterAttempt: attempt)) }
        }
        return finished
    }

    /// Settles the records of one collections write by its outcome; returns those to send again.
    private func settle(
        _ sent: [Entry], call: Result<[SalesforceRecordResult], SalesforceCallError>, attempt: Int, name: String,
        finished: inout [(Int, CommandOutcome)]
    ) -> [Entry]? {
        var again: [Entry] = []
        switch call {
        case .success(let results):
            for (entry, result) in zip(sent, results) {
                switch Self.classify(result, command: entry.command) {
                case .done(let outcome, let id): finished.append((entry.index, .written(outcome, targetID: id, attempts: attempt)))
                case .waiting(let parent): finished.append((entry.index, .waiting(for: parent, attempts: attempt)))
                case .retryWithoutCreateOnly where !entry.omitCreateOnly:
                    again.append(Entry(index: entry.index, command: entry.command, omitCreateOnly: true))
                case .retry where attempt < retry.maximumAttempts:
                    again.append(entry)
                case .retry(let error), .failed(let error):
                    finished.append((entry.index, .failed(error, attempts: attempt)))
                case .retryWithoutCreateOnly:
                    finished.append((entry.index, .failed(Self.providerError(result.errors), attempts: attempt)))
                }
            }
            for entry in sent.dropFirst(results.count) {
                finished.append((entry.index, .failed(ProviderError(code: "missing_result", message: "Salesforce returned no result for this record"), attempts: attempt)))
            }
        case .failure(.transient(let status, let message)) where attempt < retry.maximumAttempts:
            logger.info("Salesforce call failed; retrying", metadata: ["connection": "\(name)", "status": "\(status.map(String.init) ?? "-")", "message": "\(message)"])
            again = sent
        case .failure(let error):
            let failure = Self.providerError(error)
            finished += sent.map { ($0.index, .failed(failure, attempts: attempt)) }
        }
        return again.isEmpty ? nil : again
    }

    /// The record to send: fields, the external ID or Id, and resolved references.
    private func record(for command: SyncCommand, omitCreateOnly: Bool, connection: SalesforceConnection, name: String) async -> Result<[String: JSONValue], ProviderError> {
        var record = command.fields
        // Collections upserts match each record on its own external-ID value; an update by Id sets it
        // too, so children can find a linked Account by external ID.
        if let field = command.externalIDField { record[field] = .string(command.externalID) }
        if let recordID = command.recordID { record["Id"] = .string(recordID) }
        // Only create-only references depend on whether the record exists yet.
        let exists = if omitCreateOnly { true } else if command.references.contains(where: \.createOnly) {
            (try? await store.targetID(connection: command.connection, record: command.recordKey)) != nil
        } else {
            false
        }
        for reference in command.references {
            if reference.createOnly && exists { continue }
            if let match = reference.match {
                switch await matchedID(object: reference.object, match: match, connection: connection, name: name) {
                case .success(let id): record[reference.path] = .string(id)
                case .failure(let error): return .failure(error)
                }
            } else if let field = reference.externalIDField, let id = reference.externalID {
                record[reference.path] = [field: .string(id)]
            }
        }
        return .success(record)
    }

    /// The Id of the record whose fields equal `match` (the standard price book), looked up once.
    private func matchedID(object: String, match: [String: JSONValue], connection: SalesforceConnection, name: String) async -> Result<String, ProviderError> {
        let conditions = match.sorted { $0.key < $1.key }.map { "\($0.key) = \(Self.soqlLiteral($0.value))" }
        let soql = "SELECT Id FROM \(object) WHERE \(conditions.joined(separator: " AND ")) LIMIT 2"
        let cacheKey = "\(name)\u{1F}\(soql)"
        if let cached = matchedIDs.withLock({ $0[cacheKey] }) { return .success(cached) }
        do {
            let rows = try await connection.client.query(soql)
            guard rows.count == 1, let id = rows[0]["Id"]?.stringValue else {
                return .failure(ProviderError(code: "reference_not_found", message: "\(rows.count) \(object) records match \(conditions.joined(separator: " AND ")); expected one"))
            }
            matchedIDs.withLock { $0[cacheKey] = id }
            return .success(id)
        } catch {
            return .failure(Self.providerError(error))
        }
    }

    static func soqlLiteral(_ value: JSONValue) -> String {
        switch value {
        case .bool(let flag): flag ? "true" : "false"
        case .number(let number): "\(number)"
        case .null: "null"
        default:
            "'" + (value.stringValue ?? "").replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
        }
    }

    enum RecordVerdict {
        case done(SyncOutcome, String)
        case waiting(RecordKey)
        case retry(ProviderError)
        case retryWithoutCreateOnly
        case failed(ProviderError)
    }

    /// What a per-record result means for the command.
    static func classify(_ result: SalesforceRecordResult, command: SyncCommand) -> RecordVerdict {
        if result.success, let id = result.id {
            return .done(command.recordID != nil || result.created == false ? .updated : .created, id)
        }
        let error = providerError(result.errors)
        switch error.code {
        case "INVALID_FIELD":
            if let parent = missingParent(in: error.message) { return .waiting(parent) }
        case "UNABLE_TO_LOCK_ROW":
            // A lock held elsewhere: the next try succeeds.
            return .retry(error)
        case "DUPLICATE_VALUE" where command.recordID == nil && error.message.contains(command.externalIDField ?? "\u{0}"):
            // Another writer inserted the same new key at the same moment: the next try updates it.
            return .retry(error)
        case "INVALID_FIELD_FOR_INSERT_UPDATE" where command.references.contains(where: \.createOnly):
            return .retryWithoutCreateOnly
        default:
            break
        }
        return .failed(error)
    }

    /// The parent named by "Foreign key external ID: <id> not found for field <field> in entity <object>".
    static func missingParent(in message: String) -> RecordKey? {
        let prefix = "Foreign key external ID: "
        guard let start = message.range(of: prefix), let notFound = message.range(of: " not found for field ", range: start.upperBound..<message.endIndex),
            let entity = message.range(of: " in entity ", range: notFound.upperBound..<message.endIndex)
        else { return nil }
        let id = String(message[start.upperBound..<notFound.lowerBound])
        let object = String(message[entity.upperBound...]).trimmingCharacters(in: .whitespacesAndNewlines.union(CharacterSet(charactersIn: ".")))
        return RecordKey(object: object, externalID: id)
    }

    static func providerError(_ errors: [SalesforceRecordError]) -> ProviderError {
        guard let first = errors.first else { return ProviderError(code: "UNKNOWN_EXCEPTION", message: "Salesforce refused the record without a reason") }
        return ProviderError(
            code: first.statusCode, message: errors.map(\.message).joined(separator: "; "),
            fields: Array(Set(errors.flatMap(\.fields))).sorted())
    }

    static func providerError(_ error: SalesforceCallError) -> ProviderError {
        switch error {
        case .authentication(let code, let message): ProviderError(code: code, message: message, httpStatus: 401)
        case .requestLimitExceeded(let message): ProviderError(code: "REQUEST_LIMIT_EXCEEDED", message: message, httpStatus: 403, retryable: true)
        case .transient(let status, let message): ProviderError(code: "unavailable", message: message, httpStatus: status, retryable: true)
        case .rejected(let status, let errors):
            ProviderError(code: errors.first?.statusCode ?? "REJECTED", message: errors.map(\.message).joined(separator: "; "),
                          fields: Array(Set(errors.flatMap(\.fields))).sorted(), httpStatus: status)
        }
    }
}
