import Contract
import Foundation
import GRDB
import Kafka
import Synchronization

/// A writer's own state: the link table (billing external ID ↔ target id) and the commands parked
/// until their parent exists.
public final class WriterStore: Sendable {
    private let database: any DatabaseWriter
    /// Links read or written lately, so a round's children see the ids its parents just got.
    private let cache = Mutex<[LinkKey: String]>([:])
    private static let cacheLimit = 200_000
    /// Rows in `parked`, kept with every change, so that a round with nothing parked skips looking.
    private let parkedRows = Mutex(0)

    struct LinkKey: Hashable {
        let connection: String
        let record: RecordKey
    }

    public init(database: any DatabaseWriter) throws {
        self.database = database
        var migrator = DatabaseMigrator()
        migrator.registerMigration("create links and parked commands") { db in
            try db.create(table: "links", options: .withoutRowID) { table in
                table.column("connection", .text).notNull()
                table.column("object", .text).notNull()
                table.column("external_id", .text).notNull()
                table.column("target_id", .text).notNull()
                table.column("updated_at", .double).notNull()
                table.primaryKey(["connection", "object", "external_id"])
            }
            try db.create(table: "parked") { table in
                table.column("command_id", .text).primaryKey()
                table.column("connection", .text).notNull()
                table.column("waiting_object", .text).notNull()
                table.column("waiting_external_id", .text).notNull()
                table.column("message_key", .blob)
                table.column("message_value", .blob).notNull()
                table.column("message_headers", .blob).notNull()
                table.column("parked_at", .double).notNull()
                table.column("deadline", .double).notNull()
            }
            try db.create(index: "parked_waiting", on: "parked", columns: ["connection", "waiting_object", "waiting_external_id"])
            try db.create(index: "parked_deadline", on: "parked", columns: ["deadline"])
        }
        try migrator.migrate(database)
        try database.read(countParkedRows)
    }

    /// The target id of a record this writer wrote or found, if any.
    public func targetID(connection: String, record: RecordKey) async throws -> String? {
        let key = LinkKey(connection: connection, record: record)
        if let cached = cache.withLock({ $0[key] }) { return cached }
        let found = try await database.read { db in
            try String.fetchOne(
                db.cachedStatement(sql: "SELECT target_id FROM links WHERE connection = ? AND object = ? AND external_id = ?"),
                arguments: [connection, record.object, record.externalID])
        }
        if let found { remember(key, found) }
        return found
    }

    /// Records links, durably, before the results that announce them.
    public func link(_ links: [(connection: String, record: RecordKey, targetID: String)]) async throws {
        guard !links.isEmpty else { return }
        for link in links { remember(LinkKey(connection: link.connection, record: link.record), link.targetID) }
        let now = Date().timeIntervalSince1970
        try await database.write { db in
            let store = try db.cachedStatement(
                sql: "INSERT OR REPLACE INTO links (connection, object, external_id, target_id, updated_at) VALUES (?, ?, ?, ?, ?)")
            for link in links {
                try store.execute(arguments: [link.connection, link.record.object, link.record.externalID, link.targetID, now])
            }
        }
    }

    private func remember(_ key: LinkKey, _ targetID: String) {
        cache.withLock { cache in
            if cache.count >= Self.cacheLimit { cache.removeAll(keepingCapacity: true) }
            cache[key] = targetID
        }
    }

    /// A command waiting for its parent, with the message it came in, to resume or fail later.
    public struct ParkedCommand: Sendable {
        public let commandID: String
        public let connection: String
        public let waitingFor: RecordKey
        public let message: KafkaMessage
        public let deadline: Date
    }

    public func park(_ commands: [ParkedCommand]) async throws {
        guard !commands.isEmpty else { return }
        let now = Date().timeIntervalSince1970
        try await database.write { db in
            for parked in commands {
                try db.execute(
                    sql: """
                        INSERT OR REPLACE INTO parked (command_id, connection, waiting_object, waiting_external_id,
                            message_key, message_value, message_headers, parked_at, deadline)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        parked.commandID, parked.connection, parked.waitingFor.object, parked.waitingFor.externalID,
                        parked.message.key.map { Data($0) }, Data(parked.message.value), Self.encode(parked.message.headers),
                        now, parked.deadline.timeIntervalSince1970,
                    ])
            }
            try countParkedRows(db)
        }
    }

    private func countParkedRows(_ db: Database) throws {
        let count = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM parked") ?? 0
        parkedRows.withLock { $0 = count }
    }

    /// The commands waiting for any of `records`. They stay parked until `forget`, which the writer
    /// calls once their results are acknowledged.
    public func waiting(connection: String, for records: [RecordKey]) async throws -> [ParkedCommand] {
        guard !records.isEmpty, parkedRows.withLock({ $0 }) > 0 else { return [] }
        return try await database.read { db in
            var found: [ParkedCommand] = []
            let select = try db.cachedStatement(
                sql: "SELECT * FROM parked WHERE connection = ? AND waiting_object = ? AND waiting_external_id = ? ORDER BY parked_at")
            for record in records {
                found += try Row.fetchAll(select, arguments: [connection, record.object, record.externalID]).map(Self.parked(from:))
            }
            return found
        }
    }

    /// Parked commands whose deadline passed, oldest first, left in place until `forget`.
    public func expired(at date: Date = Date(), limit: Int = 500) async throws -> [ParkedCommand] {
        try await database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM parked WHERE deadline <= ? ORDER BY deadline LIMIT ?", arguments: [date.timeIntervalSince1970, limit])
                .map(Self.parked(from:))
        }
    }

    /// Parked commands parked before `date` (to retry in case their parent appeared by another way).
    public func parked(before date: Date, limit: Int = 500) async throws -> [ParkedCommand] {
        try await database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM parked WHERE parked_at <= ? ORDER BY parked_at LIMIT ?", arguments: [date.timeIntervalSince1970, limit])
                .map(Self.parked(from:))
        }
    }

    public func forget(_ commandIDs: [String]) async throws {
        guard !commandIDs.isEmpty else { return }
        try await database.write { db in
            let delete = try db.cachedStatement(sql: "DELETE FROM parked WHERE command_id = ?")
            for id in commandIDs { try delete.execute(arguments: [id]) }
            try countParkedRows(db)
        }
    }

    public func check() async throws {
        _ = try await database.read { db in try Int.fetchOne(db, sql: "SELECT 1") }
    }

    private struct StoredHeader: Codable {
        let name: String
        let value: String
    }

    private static func encode(_ headers: [KafkaHeader]) -> Data {
        (try? JSONEncoder().encode(headers.map { StoredHeader(name: $0.name, value: $0.stringValue) })) ?? Data("[]".utf8)
    }

    private static func parked(from row: Row) -> ParkedCommand {
        let headers = ((try? JSONDecoder().decode([StoredHeader].self, from: row["message_headers"] as Data? ?? Data())) ?? [])
            .map { KafkaHeader(name: $0.name, value: $0.value) }
        let key: Data? = row["message_key"]
        let value: Data = row["message_value"] ?? Data()
        return ParkedCommand(
            commandID: row["command_id"],
            connection: row["connection"],
            waitingFor: RecordKey(object: row["waiting_object"], externalID: row["waiting_external_id"]),
            message: KafkaMessage(topic: "", partition: -1, offset: -1, key: key.map { Array($0) }, value: Array(value), headers: headers),
            deadline: Date(timeIntervalSince1970: row["deadline"]))
    }
}
