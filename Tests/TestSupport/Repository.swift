import Foundation

/// Files of the repository the tests were built from.
public enum Repository {
    /// The repository's root directory.
    public static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// A path under the root, e.g. `docs/asyncapi.yaml`.
    public static func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }
}
