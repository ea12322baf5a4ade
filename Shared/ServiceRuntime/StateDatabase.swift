import Foundation
import GRDB

/// Opens a service's own SQLite store: one file, WAL mode, one writer and concurrent readers.
public enum StateDatabase {
    /// Opens (creating it and its directory if needed) the database at `path`; `:memory:` gives a
    /// private in-memory database, for tests.
    public static func open(path: String) throws -> any DatabaseWriter {
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        configuration.prepareDatabase { db in
            // WAL with NORMAL sync: committed transactions survive a process crash; a power loss may
            // lose the last moments, which upstream redelivery covers.
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
        }
        if path == ":memory:" {
            return try DatabaseQueue(configuration: configuration)
        }
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return try DatabasePool(path: path, configuration: configuration)
    }
}
