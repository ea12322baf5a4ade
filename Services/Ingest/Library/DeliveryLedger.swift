import Dispatch
import Foundation
import GRDB
import Kafka
import Logging
import ServiceLifecycle
import Synchronization

/// Remembers which webhook deliveries were stored in Kafka, so a redelivery is acknowledged without
/// producing a second event. Entries older than the retention window are purged.
///
/// Look-ups and records from concurrent requests are batched: one dedicated thread commits every
/// pending record and answers every pending look-up in a single transaction, so the per-request cost
/// stays small under load and no Swift task ever waits on SQLite.
public final class DeliveryLedger: Service, Sendable {
    private let database: any DatabaseWriter
    private let batcher: LedgerBatcher

    public init(database: any DatabaseWriter, logger: Logger) throws {
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
        self.batcher = LedgerBatcher(database: database, logger: logger)
    }

    deinit {
        batcher.close()
    }

    /// Whether the delivery was already stored.
    public func contains(organization: String, deliveryID: String) async throws -> Bool {
        try await batcher.lookup(organization: organization, deliveryID: deliveryID)
    }

    /// Records a stored delivery. Returns at once: the record is committed with the next batch, within
    /// 100 ms, and one that a crash loses only lets a redelivery through, which consumers dedupe on `ce_id`.
    public func record(organization: String, deliveryID: String, eventType: String, at date: Date = Date()) {
        batcher.record(LedgerBatcher.Record(
            organization: organization, deliveryID: deliveryID, eventType: eventType, receivedAt: date.timeIntervalSince1970))
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

    /// Runs until graceful shutdown, then commits what is pending and stops the batch thread.
    public func run() async throws {
        try? await gracefulShutdown()
        await DispatchQueue.global().run { [batcher] in batcher.close() }
    }

    /// Commits pending records, fails later look-ups and stops the batch thread. Blocking.
    public func close() {
        batcher.close()
    }
}

/// The ledger's batch thread and its inbox. The thread owns this object, not the ledger, so a ledger
/// that is released stops its thread.
final class LedgerBatcher: Sendable {
    struct Record {
        let organization: String
        let deliveryID: String
        let eventType: String
        let receivedAt: Double
    }

    private struct Lookup {
        let organization: String
        let deliveryID: String
        let continuation: CheckedContinuation<Bool, any Error>
    }

    private struct Inbox {
        var lookups: [Lookup] = []
        var records: [Record] = []
        var closed = false
    }

    private let database: any DatabaseWriter
    private let logger: Logger
    private let inbox = Mutex(Inbox())
    private let wakeup = DispatchSemaphore(value: 0)
    private let exited = DispatchSemaphore(value: 0)

    init(database: any DatabaseWriter, logger: Logger) {
        self.database = database
        self.logger = logger
        let thread = Thread { [self] in
            // Named from inside: Foundation on Linux names only the calling thread (`top -H`, `perf`).
            Thread.current.name = "delivery-ledger"
            processBatches()
            exited.signal()
        }
        thread.start()
    }

    func lookup(organization: String, deliveryID: String) async throws -> Bool {
        try await withCheckedThrowingContinuation { continuation in
            let accepted = inbox.withLock { inbox in
                guard !inbox.closed else { return false }
                inbox.lookups.append(Lookup(organization: organization, deliveryID: deliveryID, continuation: continuation))
                return true
            }
            guard accepted else { return continuation.resume(throwing: LedgerClosedError()) }
            wakeup.signal()
        }
    }

    /// Queues a record without waking the thread: it goes in with the next look-up's transaction, or
    /// within `recordFlushInterval`, so a request costs one transaction rather than two.
    func record(_ record: Record) {
        inbox.withLock { inbox in
            guard !inbox.closed else { return }
            inbox.records.append(record)
        }
    }

    func close() {
        let wasOpen = inbox.withLock { inbox in
            defer { inbox.closed = true }
            return !inbox.closed
        }
        guard wasOpen else { return }
        wakeup.signal()
        exited.wait()
    }

    /// How long a record may wait for a look-up to share its transaction.
    static let recordFlushInterval = DispatchTimeInterval.milliseconds(100)

    private func processBatches() {
        while true {
            _ = wakeup.wait(timeout: .now() + Self.recordFlushInterval)
            let (lookups, records, closed) = inbox.withLock { inbox in
                defer { inbox.lookups = []; inbox.records = [] }
                return (inbox.lookups, inbox.records, inbox.closed)
            }
            if !lookups.isEmpty || !records.isEmpty { commit(records: records, answering: lookups) }
            if closed { return }
        }
    }

    /// One transaction: records first, so a look-up sees every delivery recorded before it.
    private func commit(records: [Record], answering lookups: [Lookup]) {
        do {
            let found: [Bool] = try database.write { db in
                let insert = try db.cachedStatement(
                    sql: "INSERT OR IGNORE INTO deliveries (organization, delivery_id, event_type, received_at) VALUES (?, ?, ?, ?)")
                for record in records {
                    try insert.execute(arguments: [record.organization, record.deliveryID, record.eventType, record.receivedAt])
                }
                let select = try db.cachedStatement(sql: "SELECT 1 FROM deliveries WHERE organization = ? AND delivery_id = ?")
                return try lookups.map { lookup in
                    try Bool.fetchOne(select, arguments: [lookup.organization, lookup.deliveryID]) ?? false
                }
            }
            for (lookup, wasFound) in zip(lookups, found) { lookup.continuation.resume(returning: wasFound) }
        } catch {
            logger.error("delivery ledger batch failed", metadata: ["error": "\(error)", "ingest.records": "\(records.count)"])
            for lookup in lookups { lookup.continuation.resume(throwing: error) }
        }
    }
}

public struct LedgerClosedError: Error, CustomStringConvertible {
    public var description: String { "the delivery ledger is closed" }
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
