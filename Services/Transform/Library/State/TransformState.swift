import Foundation
import GRDB

/// What transform remembers per entity: the newest version applied, and a hash of what each mapping
/// last sent, so stale events and no-op changes produce no command.
final class TransformState: Sendable {
    private let database: any DatabaseWriter

    init(database: any DatabaseWriter) throws {
        self.database = database
        var migrator = DatabaseMigrator()
        migrator.registerMigration("create entity state") { db in
            try db.create(table: "entity_versions", options: .withoutRowID) { table in
                table.column("organization", .text).notNull()
                table.column("kind", .text).notNull()
                table.column("billing_id", .text).notNull()
                table.column("version", .text).notNull()
                table.primaryKey(["organization", "kind", "billing_id"])
            }
            try db.create(table: "sent_content", options: .withoutRowID) { table in
                table.column("connection", .text).notNull()
                table.column("mapping", .text).notNull()
                table.column("external_id", .text).notNull()
                table.column("content_hash", .text).notNull()
                table.primaryKey(["connection", "mapping", "external_id"])
            }
        }
        try migrator.migrate(database)
    }

    /// Runs `work` against a consistent snapshot of the state; `work` records its changes in the view.
    func plan<T: Sendable>(_ work: @escaping @Sendable (inout StateView) throws -> T) async throws -> (T, StateChanges) {
        try await database.read { db in
            var view = StateView(db: db)
            let result = try work(&view)
            return (result, view.changes)
        }
    }

    /// Stores the changes of a planned batch, once its messages are acknowledged.
    func apply(_ changes: StateChanges) async throws {
        guard !changes.isEmpty else { return }
        try await database.write { db in
            // Cached statements: compiling SQL for every row was a tenth of transform's CPU.
            let storeVersion = try db.cachedStatement(
                sql: "INSERT OR REPLACE INTO entity_versions (organization, kind, billing_id, version) VALUES (?, ?, ?, ?)")
            for (key, version) in changes.versions {
                try storeVersion.execute(arguments: [key.organization, key.kind, key.billingID, version.storageText])
            }
            let storeHash = try db.cachedStatement(
                sql: "INSERT OR REPLACE INTO sent_content (connection, mapping, external_id, content_hash) VALUES (?, ?, ?, ?)")
            for (key, hash) in changes.contentHashes {
                try storeHash.execute(arguments: [key.connection, key.mapping, key.externalID, hash])
            }
        }
    }

    func check() async throws {
        _ = try await database.read { db in try Int.fetchOne(db, sql: "SELECT 1") }
    }
}

struct EntityKey: Hashable, Sendable {
    let organization: String
    let kind: String
    let billingID: String
}

struct ContentKey: Hashable, Sendable {
    let connection: String
    let mapping: String
    let externalID: String
}

struct StateChanges: Sendable {
    var versions: [EntityKey: EntityVersion] = [:]
    var contentHashes: [ContentKey: String] = [:]

    var isEmpty: Bool { versions.isEmpty && contentHashes.isEmpty }
}

/// The state as a batch sees it: stored values overlaid with the batch's own changes.
struct StateView {
    fileprivate let db: Database
    fileprivate(set) var changes = StateChanges()

    func version(of key: EntityKey) throws -> EntityVersion? {
        if let pending = changes.versions[key] { return pending }
        let text = try String.fetchOne(
            db.cachedStatement(sql: "SELECT version FROM entity_versions WHERE organization = ? AND kind = ? AND billing_id = ?"),
            arguments: [key.organization, key.kind, key.billingID])
        return text.flatMap(EntityVersion.init(storageText:))
    }

    mutating func setVersion(_ version: EntityVersion, of key: EntityKey) {
        changes.versions[key] = version
    }

    func contentHash(of key: ContentKey) throws -> String? {
        if let pending = changes.contentHashes[key] { return pending }
        return try String.fetchOne(
            db.cachedStatement(sql: "SELECT content_hash FROM sent_content WHERE connection = ? AND mapping = ? AND external_id = ?"),
            arguments: [key.connection, key.mapping, key.externalID])
    }

    mutating func setContentHash(_ hash: String, of key: ContentKey) {
        changes.contentHashes[key] = hash
    }
}

extension EntityVersion {
    var storageText: String { parts.map { String($0) }.joined(separator: ",") }

    init?(storageText: String) {
        let parts = storageText.split(separator: ",").compactMap { Double($0) }
        self.init(parts: parts)
    }
}
