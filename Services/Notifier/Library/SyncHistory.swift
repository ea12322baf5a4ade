import Contract
import Foundation
import GRDB

/// What the dashboard and its API may filter the history by.
struct HistoryFilter: Sendable {
    var connection: String?
    var object: String?
    var outcome: String?
    /// A billing customer id or external customer id.
    var customer: String?

    init(connection: String? = nil, object: String? = nil, outcome: String? = nil, customer: String? = nil) {
        func value(_ text: String?) -> String? { text.flatMap { $0.isEmpty ? nil : $0 } }
        self.connection = value(connection)
        self.object = value(object)
        self.outcome = value(outcome)
        self.customer = value(customer)
    }

    /// `AND …` conditions on the results table (aliased `r`) and their arguments.
    var sql: (String, StatementArguments) {
        var conditions: [String] = []
        var arguments: StatementArguments = []
        if let connection { conditions.append("r.connection = ?"); arguments += [connection] }
        if let object { conditions.append("(r.object = ? OR r.billing_object = ?)"); arguments += [object, object] }
        if let outcome { conditions.append("r.outcome = ?"); arguments += [outcome] }
        if let customer { conditions.append("(r.customer_id = ? OR r.external_customer_id = ?)"); arguments += [customer, customer] }
        return (conditions.map { " AND \($0)" }.joined(), arguments)
    }
}

/// One result as the history shows it.
struct HistoryEntry: Sendable {
    let id: Int64
    let time: String
    let outcome: String
    let connection: String?
    let system: String?
    let object: String?
    let billingObject: String
    let billingID: String
    let customerID: String?
    let externalCustomerID: String
    let documentNumber: String?
    let targetID: String?
    let commandID: String?
    let eventID: String
    let attempts: Int
    let reason: String?
    let errorCode: String?
    let errorMessage: String?
    let errorPath: String?
    let errorFields: [String]
    let reporter: String

    init(row: Row) {
        id = row["id"]
        time = row["time"]
        outcome = row["outcome"]
        connection = row["connection"]
        system = row["system"]
        object = row["object"]
        billingObject = row["billing_object"]
        billingID = row["billing_id"]
        customerID = row["customer_id"]
        externalCustomerID = row["external_customer_id"]
        documentNumber = row["document_number"]
        targetID = row["target_id"]
        commandID = row["command_id"]
        eventID = row["event_id"]
        attempts = row["attempts"]
        reason = row["reason"]
        errorCode = row["error_code"]
        errorMessage = row["error_message"]
        errorPath = row["error_path"]
        errorFields = (row["error_fields"] as String?).flatMap { try? JSONDecoder().decode([String].self, from: Data($0.utf8)) } ?? []
        reporter = row["reporter"]
    }

    var json: JSONValue {
        func text(_ value: String?) -> JSONValue { value.map(JSONValue.string) ?? .null }
        var members: [String: JSONValue] = [
            "id": .number(Decimal(id)), "time": .string(time), "outcome": .string(outcome), "connection": text(connection),
            "system": text(system), "object": text(object), "billing_object": .string(billingObject), "billing_id": .string(billingID),
            "customer_id": text(customerID), "external_customer_id": .string(externalCustomerID),
            "document_number": text(documentNumber), "target_id": text(targetID), "command_id": text(commandID),
            "event_id": .string(eventID), "attempts": .number(Decimal(attempts)),
            "reason": text(reason), "reporter": .string(reporter),
        ]
        if let errorCode {
            members["error"] = [
                "code": .string(errorCode), "message": text(errorMessage), "path": text(errorPath),
                "fields": .array(errorFields.map(JSONValue.string)),
            ]
        }
        return .object(members)
    }
}

/// A connection's health over the last hour.
struct ConnectionHealth: Sendable {
    let connection: String
    let system: String?
    let lastSuccess: String?
    let results: Int
    let failed: Int
    let apiUsed: Int?
    let apiAllocation: Int?

    var errorRate: Double { results == 0 ? 0 : Double(failed) / Double(results) }

    var json: JSONValue {
        [
            "connection": .string(connection), "system": system.map(JSONValue.string) ?? .null,
            "last_success": lastSuccess.map(JSONValue.string) ?? .null,
            "results_last_hour": .number(Decimal(results)), "failed_last_hour": .number(Decimal(failed)),
            "error_rate": .number(Decimal(errorRate)),
            "api_usage": apiUsed.map { used in
                ["used": .number(Decimal(used)), "allocation": .number(Decimal(apiAllocation ?? 0))]
            } ?? .null,
        ]
    }
}

extension NotifierStore {
    /// Counts by connection, object and outcome since `since`.
    func outcomeCounts(since: Date, filter: HistoryFilter) async throws -> [(connection: String, object: String, outcome: String, count: Int)] {
        let (conditions, arguments) = filter.sql
        return try await database.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT COALESCE(r.connection, '-') AS connection, COALESCE(r.object, r.billing_object) AS object, r.outcome, COUNT(*) AS count
                    FROM results r WHERE r.recorded_at >= ?\(conditions)
                    GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
                    """,
                arguments: [since.timeIntervalSince1970] + arguments
            ).map { ($0["connection"], $0["object"], $0["outcome"], $0["count"]) }
        }
    }

    func history(filter: HistoryFilter, limit: Int) async throws -> [HistoryEntry] {
        let (conditions, arguments) = filter.sql
        return try await database.read { db in
            try Row.fetchAll(db, sql: "SELECT r.* FROM results r WHERE 1 = 1\(conditions) ORDER BY r.id DESC LIMIT ?", arguments: arguments + [limit])
                .map(HistoryEntry.init(row:))
        }
    }

    /// The latest failure of each document that has not been written successfully since.
    func openFailures(filter: HistoryFilter, limit: Int) async throws -> [HistoryEntry] {
        let (conditions, arguments) = filter.sql
        return try await database.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT r.* FROM results r
                    WHERE r.outcome = 'failed'\(conditions)
                      AND NOT EXISTS (SELECT 1 FROM results later
                                      WHERE later.id > r.id AND later.billing_id = r.billing_id
                                        AND later.connection IS r.connection AND later.object IS r.object)
                    ORDER BY r.id DESC LIMIT ?
                    """,
                arguments: arguments + [limit]
            ).map(HistoryEntry.init(row:))
        }
    }

    func entry(id: Int64) async throws -> HistoryEntry? {
        try await database.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM results WHERE id = ?", arguments: [id]).map(HistoryEntry.init(row:))
        }
    }

    func health(now: Date = Date()) async throws -> [ConnectionHealth] {
        try await database.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT r.connection, MAX(r.system) AS system,
                        (SELECT MAX(s.time) FROM results s WHERE s.connection = r.connection AND s.outcome IN ('created', 'updated', 'unchanged')) AS last_success,
                        SUM(CASE WHEN r.recorded_at >= ? THEN 1 ELSE 0 END) AS results,
                        SUM(CASE WHEN r.recorded_at >= ? AND r.outcome = 'failed' THEN 1 ELSE 0 END) AS failed,
                        (SELECT u.api_used FROM results u WHERE u.connection = r.connection AND u.api_used IS NOT NULL ORDER BY u.id DESC LIMIT 1) AS api_used,
                        (SELECT u.api_allocation FROM results u WHERE u.connection = r.connection AND u.api_used IS NOT NULL ORDER BY u.id DESC LIMIT 1) AS api_allocation
                    FROM results r WHERE r.connection IS NOT NULL GROUP BY r.connection ORDER BY r.connection
                    """,
                arguments: [now.timeIntervalSince1970 - 3600, now.timeIntervalSince1970 - 3600]
            ).map { row in
                ConnectionHealth(
                    connection: row["connection"], system: row["system"], lastSuccess: row["last_success"], results: row["results"],
                    failed: row["failed"], apiUsed: row["api_used"], apiAllocation: row["api_allocation"])
            }
        }
    }

    func deliveries(limit: Int) async throws -> [JSONValue] {
        try await database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM outbox ORDER BY created_at DESC, delivery_id LIMIT ?", arguments: [limit]).map { row in
                func time(_ column: String) -> JSONValue {
                    (row[column] as Double?).map { .string(Date(timeIntervalSince1970: $0).formatted(.iso8601)) } ?? .null
                }
                return [
                    "delivery_id": .string(row["delivery_id"]), "endpoint": .string(row["endpoint"]),
                    "event_type": .string(row["event_type"]), "status": .string(row["status"]),
                    "attempts": .number(Decimal(row["attempts"] as Int)),
                    "last_status": (row["last_status"] as Int?).map { .number(Decimal($0)) } ?? .null,
                    "last_error": (row["last_error"] as String?).map(JSONValue.string) ?? .null,
                    "created_at": time("created_at"), "last_attempt_at": time("last_attempt_at"), "delivered_at": time("delivered_at"),
                ]
            }
        }
    }
}
