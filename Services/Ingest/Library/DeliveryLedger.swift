import Foundation
import GRDB
import Logging
import ServiceLifecycle

/// Remembers which webhook deliveries were stored in Kafka, so a redelivery is acknowledged without
/// producing a second event. Entries older than the retention window are purged.
public struct DeliveryLedger: Sendable {
    private let database: any DatabaseWriter

    public init(database: any DatabaseWriter) throws {
        self.database = database
        var migrator = DatabaseMigrator()
        migrator.registerMigration("create deliveries") { db in
            try db.create(table: "deliveries", options: .withoutRowID) { table in
                table.column("organization", .text).notNull()
                table.column("delivery_id", .text).notNull()
                table.column("event_type", .text).notNull()
                table.column("received_at", .double).notNull()
                table.primaryKey(["organization", "delivery_id"])
            }
            try db.create(index: "deliveries_received_at", on: "deliveries", columns: ["received_at"])
        }
        try migrator.migrate(database)
    }

    public func contains(organization: String, deliveryID: String) async throws -> Bool {
        try await database.read { db in
            try Bool.fetchOne(
                db, sql: "SELECT 1 FROM deliveries WHERE organization = ? AND delivery_id = ?",
                arguments: [organization, deliveryID]
            ) ?? false
        }
    }

    public func record(organization: String, deliveryID: String, eventType: String, at date: Date = Date()) async throws {
        try await database.write { db in
            try db.execute(
                sql: "INSERT OR IGNORE INTO deliveries (organization, delivery_id, event_type, received_at) VALUES (?, ?, ?, ?)",
                arguments: [organization, deliveryID, eventType, date.timeIntervalSince1970]
            )
        }
    }

    /// Forgets deliveries received before `date`; returns how many.
    @discardableResult
    public func purge(before date: Date) async throws -> Int {
        try await database.write { db in
            try db.execute(sql: "DELETE FROM deliveries WHERE received_at < ?", arguments: [date.timeIntervalSince1970])
            return db.changesCount
        }
    }

    /// Checks the store answers, for readiness probes.
    public func check() async throws {
        _ = try await database.read { db in try Int.fetchOne(db, sql: "SELECT 1") }
    }
}

/// Purges the ledger every hour, until graceful shutdown.
struct DeliveryLedgerPurger: Service {
    let ledger: DeliveryLedger
    let retention: Duration
    let logger: Logger

    func run() async throws {
        while !Task.isShuttingDownGracefully {
            let cutoff = Date().addingTimeInterval(-Double(retention.components.seconds))
            do {
                let purged = try await ledger.purge(before: cutoff)
                logger.debug("purged delivery ledger", metadata: ["ingest.purged": "\(purged)"])
            } catch {
                logger.error("cannot purge delivery ledger", metadata: ["error": "\(error)"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(3600)) }
        }
    }
}
