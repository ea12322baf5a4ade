import Contract
import Foundation
import GRDB
import Kafka

/// The notifier's SQLite store: every result (the sync history), the dead letters to replay, the
/// alerts being coalesced, the customers already announced, and the webhook outbox.
final class NotifierStore: Sendable {
    let database: any DatabaseWriter

    init(database: any DatabaseWriter) throws {
        self.database = database
        var migrator = DatabaseMigrator()
        migrator.registerMigration("history, dead letters, alerts, outbox") { db in
            try db.execute(sql: """
                CREATE TABLE results (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    partition INTEGER NOT NULL, offset INTEGER NOT NULL,
                    time TEXT NOT NULL, recorded_at REAL NOT NULL,
                    outcome TEXT NOT NULL, connection TEXT, system TEXT, object TEXT,
                    billing_object TEXT NOT NULL, billing_id TEXT NOT NULL, customer_id TEXT, external_customer_id TEXT NOT NULL,
                    document_number TEXT, command_id TEXT, event_id TEXT NOT NULL, target_id TEXT, attempts INTEGER NOT NULL,
                    reason TEXT, error_code TEXT, error_message TEXT, error_path TEXT, error_fields TEXT,
                    api_used INTEGER, api_allocation INTEGER, reporter TEXT NOT NULL,
                    UNIQUE (partition, offset));
                CREATE INDEX results_document ON results (connection, object, billing_id, id);
                CREATE INDEX results_outcome ON results (outcome, id);
                CREATE INDEX results_connection ON results (connection, recorded_at);
                CREATE TABLE dead_letters (
                    source_topic TEXT NOT NULL, message_id TEXT NOT NULL,
                    key BLOB, value BLOB NOT NULL, headers TEXT NOT NULL, recorded_at REAL NOT NULL,
                    PRIMARY KEY (source_topic, message_id));
                CREATE TABLE alerts (
                    id TEXT PRIMARY KEY, coalesce_key TEXT, event_type TEXT NOT NULL, message_key BLOB,
                    result_id INTEGER NOT NULL, summary TEXT NOT NULL,
                    created_at REAL NOT NULL, due_at REAL NOT NULL, emitted_at REAL);
                CREATE INDEX alerts_pending ON alerts (due_at) WHERE emitted_at IS NULL;
                CREATE INDEX alerts_coalescing ON alerts (coalesce_key) WHERE emitted_at IS NULL;
                CREATE TABLE announced_customers (
                    connection TEXT NOT NULL, customer_id TEXT NOT NULL, PRIMARY KEY (connection, customer_id));
                CREATE TABLE outbox (
                    delivery_id TEXT PRIMARY KEY, alert_id TEXT NOT NULL, endpoint TEXT NOT NULL, event_type TEXT NOT NULL,
                    body BLOB NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
                    created_at REAL NOT NULL, next_attempt_at REAL NOT NULL, deadline REAL NOT NULL,
                    last_attempt_at REAL, last_status INTEGER, last_error TEXT, delivered_at REAL);
                CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE status = 'pending';
                CREATE TABLE replays (result_id INTEGER NOT NULL, requested_at REAL NOT NULL);
                """)
        }
        try migrator.migrate(database)
    }

    func check() async throws {
        _ = try await database.read { db in try Int.fetchOne(db, sql: "SELECT 1") }
    }

    // MARK: - Recording

    /// A result to record, with where it came from.
    struct IncomingResult: Sendable {
        let result: SyncResult
        let key: MessageKey?
        let rawKey: [UInt8]?
        let partition: Int32
        let offset: Int64
    }

    /// A dead letter kept for replay.
    struct IncomingDeadLetter: Sendable {
        let sourceTopic: String
        let messageID: String
        let key: [UInt8]?
        let value: [UInt8]
        let headers: [KafkaHeader]
    }

    /// Records one batch in one transaction: results (a redelivered message is recorded once), dead
    /// letters, the alerts failures open or join, and the announcement of customers seen for the
    /// first time.
    func record(results: [IncomingResult], deadLetters: [IncomingDeadLetter], coalesceWindow: Duration, now: Date = Date()) async throws {
        let window = Double(coalesceWindow.components.seconds) + Double(coalesceWindow.components.attoseconds) / 1e18
        try await database.write { db in
            for letter in deadLetters {
                try db.execute(
                    sql: "INSERT OR REPLACE INTO dead_letters (source_topic, message_id, key, value, headers, recorded_at) VALUES (?, ?, ?, ?, ?, ?)",
                    arguments: [letter.sourceTopic, letter.messageID, letter.key.map { Data($0) }, Data(letter.value),
                                Self.encode(letter.headers), now.timeIntervalSince1970])
            }
            let insertResult = try db.cachedStatement(sql: """
                INSERT OR IGNORE INTO results (partition, offset, time, recorded_at, outcome, connection, system, object,
                    billing_object, billing_id, customer_id, external_customer_id, document_number, command_id, event_id,
                    target_id, attempts, reason, error_code, error_message, error_path, error_fields, api_used,
                    api_allocation, reporter)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
            for incoming in results {
                let result = incoming.result
                try insertResult.execute(
                    arguments: [
                        incoming.partition, incoming.offset, result.time, now.timeIntervalSince1970, result.outcome.rawValue,
                        result.connection, result.system?.rawValue, result.object, result.source.billingObject,
                        result.source.billingID, result.source.customerID, incoming.key?.externalCustomerID ?? "",
                        result.source.documentNumber, result.commandID, result.source.eventID, result.targetID, result.attempts,
                        result.reason, result.error?.code, result.error?.message, result.error?.path,
                        result.error.map { String(decoding: (try? JSONEncoder().encode($0.fields)) ?? Data(), as: UTF8.self) },
                        result.apiUsage?.used, result.apiUsage?.allocation, result.reporter,
                    ])
                guard db.changesCount == 1, let system = result.system, let connection = result.connection else { continue }
                let resultID = db.lastInsertedRowID
                switch result.outcome {
                case .failed:
                    try Self.joinOrOpenAlert(db, result: result, system: system, connection: connection, incoming: incoming,
                                             resultID: resultID, window: window, now: now)
                case .created, .updated:
                    try Self.announceCustomer(db, result: result, system: system, connection: connection, incoming: incoming,
                                              resultID: resultID, now: now)
                case .unchanged, .skipped:
                    break
                }
            }
        }
    }

    private static func joinOrOpenAlert(
        _ db: Database, result: SyncResult, system: TargetSystem, connection: String, incoming: IncomingResult,
        resultID: Int64, window: Double, now: Date
    ) throws {
        let error = result.error ?? ProviderError(code: result.reason ?? "failed", message: result.reason ?? "failed")
        let coalesceKey = [connection, system.rawValue, result.source.billingObject, result.source.billingID, error.code]
            .joined(separator: "\u{1F}")
        if let row = try Row.fetchOne(db, sql: "SELECT id, summary FROM alerts WHERE coalesce_key = ? AND emitted_at IS NULL", arguments: [coalesceKey]),
            var summary = try? JSONDecoder().decode(FailureSummary.self, from: Data((row["summary"] as String).utf8))
        {
            summary.occurrences += 1
            summary.lastFailedAt = result.time
            try db.execute(sql: "UPDATE alerts SET summary = ? WHERE id = ?", arguments: [encode(summary), row["id"] as String])
            return
        }
        let summary = FailureSummary(
            system: system, connection: connection, organizationID: incoming.key?.organizationID ?? "",
            externalCustomerID: incoming.key?.externalCustomerID ?? "", customerID: result.source.customerID ?? "",
            documentType: result.source.billingObject, billingID: result.source.billingID,
            documentNumber: result.source.documentNumber, targetObject: result.object, error: error, attempts: result.attempts,
            occurrences: 1, firstFailedAt: result.time, lastFailedAt: result.time)
        try db.execute(
            sql: "INSERT INTO alerts (id, coalesce_key, event_type, message_key, result_id, summary, created_at, due_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            arguments: [UUID().uuidString.lowercased(), coalesceKey, ProviderEventType.error(for: system),
                        incoming.rawKey.map { Data($0) }, resultID, encode(summary), now.timeIntervalSince1970,
                        now.timeIntervalSince1970 + window])
    }

    private static func announceCustomer(
        _ db: Database, result: SyncResult, system: TargetSystem, connection: String, incoming: IncomingResult,
        resultID: Int64, now: Date
    ) throws {
        guard result.source.billingObject == "customer", let targetID = result.targetID, let customerID = result.source.customerID else { return }
        try db.execute(
            sql: "INSERT OR IGNORE INTO announced_customers (connection, customer_id) VALUES (?, ?)", arguments: [connection, customerID])
        guard db.changesCount == 1 else { return }
        let event = ProviderEvents.created(
            system: system, connection: connection, organizationID: incoming.key?.organizationID ?? "", customerID: customerID,
            externalCustomerID: incoming.key?.externalCustomerID ?? "", targetID: targetID)
        try db.execute(
            sql: "INSERT INTO alerts (id, event_type, message_key, result_id, summary, created_at, due_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            arguments: [UUID().uuidString.lowercased(), ProviderEventType.created(for: system), incoming.rawKey.map { Data($0) },
                        resultID, String(decoding: event.encoded(), as: UTF8.self), now.timeIntervalSince1970, now.timeIntervalSince1970])
    }

    // MARK: - Alerts

    struct DueAlert: Sendable {
        let id: String
        let eventType: String
        let messageKey: [UInt8]
        let resultID: Int64
        /// A `FailureSummary` for errors, the event itself for announcements.
        let summary: String
    }

    func dueAlerts(now: Date = Date(), limit: Int = 500) async throws -> [DueAlert] {
        try await database.read { db in
            try Row.fetchAll(
                db, sql: "SELECT id, event_type, message_key, result_id, summary FROM alerts WHERE emitted_at IS NULL AND due_at <= ? ORDER BY due_at LIMIT ?",
                arguments: [now.timeIntervalSince1970, limit]
            ).map { row in
                DueAlert(id: row["id"], eventType: row["event_type"], messageKey: (row["message_key"] as Data?).map { Array($0) } ?? [],
                         resultID: row["result_id"], summary: row["summary"])
            }
        }
    }

    /// Marks alerts emitted and puts their deliveries (each alert's event as `body`) in the outbox, in
    /// one transaction.
    func emitted(_ alerts: [(alert: DueAlert, body: [UInt8])], endpoints: [WebhookEndpoint], retryPeriod: Duration, now: Date = Date()) async throws {
        let (time, deadline) = (now.timeIntervalSince1970, now.timeIntervalSince1970 + Double(retryPeriod.components.seconds))
        try await database.write { db in
            let deliver = try db.cachedStatement(sql: """
                INSERT OR IGNORE INTO outbox (delivery_id, alert_id, endpoint, event_type, body, status, created_at, next_attempt_at, deadline)
                VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, ?)
                """)
            let markEmitted = try db.cachedStatement(sql: "UPDATE alerts SET emitted_at = ? WHERE id = ?")
            for (alert, body) in alerts {
                for endpoint in endpoints where endpoint.takes(alert.eventType) {
                    try deliver.execute(arguments: [
                        Self.deliveryID(alert: alert.id, endpoint: endpoint.name), alert.id, endpoint.name, alert.eventType,
                        Data(body), time, time, deadline,
                    ])
                }
                try markEmitted.execute(arguments: [time, alert.id])
            }
        }
    }

    /// Stable for an alert and an endpoint: every retry of a delivery carries it.
    static func deliveryID(alert: String, endpoint: String) -> String { "\(alert).\(endpoint)" }

    // MARK: - Outbox

    struct Delivery: Sendable {
        let id: String
        let endpoint: String
        let eventType: String
        let body: [UInt8]
        let attempts: Int
        let deadline: Date
    }

    func dueDeliveries(now: Date = Date(), excluding busy: Set<String>, limit: Int) async throws -> [Delivery] {
        try await database.read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM outbox WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?",
                arguments: [now.timeIntervalSince1970, limit + busy.count]
            ).compactMap { row -> Delivery? in
                let id: String = row["delivery_id"]
                guard !busy.contains(id) else { return nil }
                return Delivery(
                    id: id, endpoint: row["endpoint"], eventType: row["event_type"], body: Array(row["body"] as Data),
                    attempts: row["attempts"], deadline: Date(timeIntervalSince1970: row["deadline"]))
            }.prefix(limit).map { $0 }
        }
    }

    /// Records an attempt: delivered, or due again at `retryAt`, or given up when that is past the deadline.
    func recordAttempt(_ delivery: Delivery, status: Int?, error: String?, delivered: Bool, retryAt: Date, now: Date = Date()) async throws {
        let state = delivered ? "delivered" : retryAt > delivery.deadline ? "failed" : "pending"
        try await database.write { db in
            try db.execute(
                sql: """
                    UPDATE outbox SET status = ?, attempts = attempts + 1, last_attempt_at = ?, last_status = ?, last_error = ?,
                        next_attempt_at = ?, delivered_at = ? WHERE delivery_id = ?
                    """,
                arguments: [state, now.timeIntervalSince1970, status, error, retryAt.timeIntervalSince1970,
                            delivered ? now.timeIntervalSince1970 : nil, delivery.id])
        }
    }

    // MARK: - Replays

    /// A failed result's dead letter, as a replay needs it.
    struct Replayable: Sendable {
        let outcome: String
        /// Nil when no dead letter is kept for the result.
        let letter: KafkaOutgoingMessage?
    }

    /// The dead letter a result's command (or event) went to, if it is kept, addressed back to the
    /// topic it failed on with its own key and headers.
    func deadLetter(forResult id: Int64) async throws -> Replayable? {
        try await database.read { db -> Replayable? in
            guard let result = try Row.fetchOne(db, sql: "SELECT outcome, command_id, event_id FROM results WHERE id = ?", arguments: [id]) else {
                return nil
            }
            let messageID = (result["command_id"] as String?) ?? (result["event_id"] as String)
            let letter = try Row.fetchOne(
                db, sql: "SELECT * FROM dead_letters WHERE message_id = ? ORDER BY recorded_at DESC LIMIT 1", arguments: [messageID])
            return Replayable(outcome: result["outcome"], letter: letter.map { row in
                KafkaOutgoingMessage(
                    topic: row["source_topic"], key: (row["key"] as Data?).map { Array($0) } ?? [], value: Array(row["value"] as Data),
                    headers: Self.decodeHeaders(row["headers"]).filter { !$0.name.hasPrefix(DeadLetterHeader.prefix) })
            })
        }
    }

    func replays(ofResult id: Int64) async throws -> [Date] {
        try await database.read { db in
            try Double.fetchAll(db, sql: "SELECT requested_at FROM replays WHERE result_id = ? ORDER BY requested_at", arguments: [id])
                .map { Date(timeIntervalSince1970: $0) }
        }
    }

    /// Forgets what is older than `cutoff`: results, dead letters, emitted alerts, finished deliveries.
    /// Pending alerts and deliveries stay whatever their age.
    func prune(before cutoff: Date) async throws {
        let time = cutoff.timeIntervalSince1970
        try await database.write { db in
            try db.execute(sql: "DELETE FROM results WHERE recorded_at < ?", arguments: [time])
            try db.execute(sql: "DELETE FROM dead_letters WHERE recorded_at < ?", arguments: [time])
            try db.execute(sql: "DELETE FROM alerts WHERE emitted_at IS NOT NULL AND emitted_at < ?", arguments: [time])
            try db.execute(sql: "DELETE FROM outbox WHERE status != 'pending' AND created_at < ?", arguments: [time])
            try db.execute(sql: "DELETE FROM replays WHERE requested_at < ?", arguments: [time])
        }
    }

    func recordReplay(ofResult id: Int64, now: Date = Date()) async throws {
        try await database.write { db in
            try db.execute(sql: "INSERT INTO replays (result_id, requested_at) VALUES (?, ?)", arguments: [id, now.timeIntervalSince1970])
        }
    }

    // MARK: - Encoding

    static func encode(_ summary: FailureSummary) -> String {
        String(decoding: (try? JSONEncoder().encode(summary)) ?? Data("{}".utf8), as: UTF8.self)
    }

    static func encode(_ headers: [KafkaHeader]) -> String {
        let pairs = headers.map { ["name": $0.name, "value": String(decoding: $0.value, as: UTF8.self)] }
        return String(decoding: (try? JSONEncoder().encode(pairs)) ?? Data("[]".utf8), as: UTF8.self)
    }

    static func decodeHeaders(_ text: String) -> [KafkaHeader] {
        let pairs = (try? JSONDecoder().decode([[String: String]].self, from: Data(text.utf8))) ?? []
        return pairs.compactMap { pair in pair["name"].map { KafkaHeader(name: $0, value: pair["value"] ?? "") } }
    }
}
