import Foundation

/// Runs `body` with a new, empty directory `<prefix>-<UUID>` under the system's temporary directory,
/// then removes the directory and everything in it, also when `body` throws. Programs writing into
/// it must have stopped by then.
public func withTemporaryDirectory<Result>(
    prefix: String,
    isolation: isolated (any Actor)? = #isolation,
    _ body: (URL) async throws -> Result
) async throws -> Result {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    return try await body(directory)
}
