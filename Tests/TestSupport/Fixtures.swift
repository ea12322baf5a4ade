import Foundation

/// Files under `Tests/TestSupport/Fixtures`.
public enum Fixtures {
    /// A Lago webhook body, e.g. `lago("invoice.created")`, byte for byte as stored.
    public static func lago(_ name: String) throws -> [UInt8] {
        try bytes("lago/\(name).json")
    }

    /// The webhook fixtures: every `lago/*.json` file's name without extension.
    public static var lagoWebhookNames: [String] {
        let directory = Bundle.module.resourceURL!.appendingPathComponent("Fixtures/lago")
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return files.filter { $0.hasSuffix(".json") }.map { String($0.dropLast(5)) }.sorted()
    }

    public static func text(_ path: String) throws -> String {
        String(decoding: try bytes(path), as: UTF8.self)
    }

    public static func bytes(_ path: String) throws -> [UInt8] {
        let url = Bundle.module.resourceURL!.appendingPathComponent("Fixtures").appendingPathComponent(path)
        return Array(try Data(contentsOf: url))
    }
}
