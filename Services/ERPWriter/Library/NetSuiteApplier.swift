import CommandWriting
import Contract
import Foundation
import Logging
import NetSuiteClient

/// Writes commands to NetSuite with `PUT /record/v1/{type}/eid:{externalId}`: a retry after a timeout
/// or a lost response updates the same record instead of creating a second one.
final class NetSuiteApplier: CommandApplier {
    let clients: [String: NetSuiteClient]
    let store: WriterStore
    let retry: RetryPolicy
    let logger: Logger

    init(clients: [String: NetSuiteClient], store: WriterStore, retry: RetryPolicy, logger: Logger) {
        self.clients = clients
        self.store = store
        self.retry = retry
        self.logger = logger
    }

    func apply(_ commands: [SyncCommand]) async -> [CommandOutcome] {
        var outcomes = [CommandOutcome?](repeating: nil, count: commands.count)
        // Internal ids written by earlier levels of this call: the writer links them only once the
        // call returns, and children must not read back what was just written.
        var written: [WrittenRecord: String] = [:]
        // Parents first: a level's records are referenced only by later levels. Within a level every
        // write runs at once; the client keeps in-flight requests under the connection's limit.
        for level in commands.parentFirstLevels() {
            let parents = written
            await withTaskGroup(of: (Int, CommandOutcome).self) { group in
                for index in commands.indices where level.contains(commands[index].object) {
                    group.addTask { [self] in (index, await write(commands[index], writtenParents: parents)) }
                }
                for await (index, outcome) in group {
                    outcomes[index] = outcome
                    if case .written(_, let targetID, _) = outcome {
                        written[WrittenRecord(connection: commands[index].connection, record: commands[index].recordKey)] = targetID
                    }
                }
            }
        }
        return outcomes.map { $0 ?? .failed(ProviderError(code: "internal", message: "no outcome"), attempts: 0) }
    }

    private struct WrittenRecord: Hashable {
        let connection: String
        let record: RecordKey
    }

    private func write(_ command: SyncCommand, writtenParents: [WrittenRecord: String]) async -> CommandOutcome {
        guard let client = clients[command.connection] else {
            return .failed(ProviderError(code: "unknown_connection", message: "no NetSuite connection \(command.connection)"), attempts: 0)
        }
        var attempt = 0
        while true {
            attempt += 1
            do throws(NetSuiteCallError) {
                var fields = command.fields
                for reference in command.references {
                    guard let externalID = reference.externalID else { continue }
                    let parent = RecordKey(object: reference.object, externalID: externalID)
                    var id = writtenParents[WrittenRecord(connection: command.connection, record: parent)]
                    if id == nil { id = try await internalID(of: parent, connection: command.connection, client: client) }
                    guard let id else { return .waiting(for: parent, attempts: attempt) }
                    fields = JSONValue.object(fields).setting(["id": .string(id)], at: reference.path).objectValue ?? fields
                }
                let existed = (try? await store.targetID(connection: command.connection, record: command.recordKey)) != nil
                let id = try await client.upsert(
                    recordType: command.object, externalID: command.externalID, fields: fields, replaceSublists: command.replaceSublists)
                return .written(existed ? .updated : .created, targetID: id, attempts: attempt)
            } catch {
                switch error {
                case .transient(let status, let message) where attempt < retry.maximumAttempts:
                    logger.info("NetSuite call failed; retrying", metadata: [
                        "connection": "\(command.connection)", "status": "\(status.map(String.init) ?? "-")", "message": "\(message)",
                    ])
                    try? await Task.sleep(for: retry.delay(afterAttempt: attempt))
                default:
                    return .failed(Self.providerError(error), attempts: attempt)
                }
            }
        }
    }

    /// The parent's internal id: from the link table, else read by external ID (and linked).
    private func internalID(of parent: RecordKey, connection: String, client: NetSuiteClient) async throws(NetSuiteCallError) -> String? {
        if let linked = try? await store.targetID(connection: connection, record: parent) { return linked }
        guard let found = try await client.internalID(recordType: parent.object, externalID: parent.externalID) else { return nil }
        try? await store.link([(connection, parent, found)])
        return found
    }

    static func providerError(_ error: NetSuiteCallError) -> ProviderError {
        switch error {
        case .authentication(let message):
            ProviderError(code: "INVALID_LOGIN", message: message, httpStatus: 401)
        case .transient(let status, let message):
            ProviderError(code: status == 429 ? "CONCURRENCY_LIMIT_EXCEEDED" : "unavailable", message: message, httpStatus: status, retryable: true)
        case .rejected(let status, let details):
            ProviderError(
                code: details.first?.code ?? "REJECTED", message: details.map(\.detail).joined(separator: "; "),
                path: details.first?.path, httpStatus: status)
        }
    }
}
