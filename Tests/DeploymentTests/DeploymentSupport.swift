import Foundation
import TestSupport
import Testing
import Yams

/// The repository the tests run in, and the files they read.
enum Repository {
    static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // DeploymentTests
        .deletingLastPathComponent()  // Tests
        .deletingLastPathComponent()

    static func url(_ path: String) -> URL { root.appendingPathComponent(path) }

    static func text(_ path: String) throws -> String {
        try String(contentsOf: url(path), encoding: .utf8)
    }

    static func exists(_ path: String) -> Bool {
        FileManager.default.fileExists(atPath: path.hasPrefix("/") ? path : url(path).path)
    }

    /// Every file under `directory` (relative to the root) whose name ends with one of `suffixes`.
    static func files(under directory: String, endingWith suffixes: [String]) -> [String] {
        guard let enumerator = FileManager.default.enumerator(atPath: url(directory).path) else { return [] }
        var found: [String] = []
        while let relative = enumerator.nextObject() as? String {
            if suffixes.contains(where: { relative.hasSuffix($0) }) { found.append("\(directory)/\(relative)") }
        }
        return found.sorted()
    }
}

/// The services built from the Crossbill image, as the deployment files must run them.
struct CrossbillService: Sendable, CustomStringConvertible {
    let name: String
    let port: Int
    let databaseVariable: String
    /// Consumes a topic in a consumer group, and so may run several replicas (unless `singleReplica`).
    let consumes: Bool
    /// Must run exactly one replica everywhere: compose, the StatefulSet, and no autoscaler. The
    /// notifier's store is the whole sync history, the coalescing state and the webhook outbox; a second
    /// replica would take part of the partitions into a store of its own, and each would see half.
    var singleReplica: Bool = false

    var description: String { name }

    static let all: [CrossbillService] = [
        CrossbillService(name: "ingest", port: 8080, databaseVariable: "INGEST_DATABASE_PATH", consumes: false),
        CrossbillService(name: "transform", port: 8081, databaseVariable: "TRANSFORM_DATABASE_PATH", consumes: true),
        CrossbillService(name: "crm-writer", port: 8082, databaseVariable: "CRM_DATABASE_PATH", consumes: true),
        CrossbillService(name: "erp-writer", port: 8083, databaseVariable: "ERP_DATABASE_PATH", consumes: true),
        CrossbillService(name: "notifier", port: 8084, databaseVariable: "NOTIFIER_DATABASE_PATH", consumes: true, singleReplica: true),
    ]

    /// The services that must run exactly one replica.
    static var singleReplicaServices: [CrossbillService] { all.filter(\.singleReplica) }

    static func named(_ name: String) -> CrossbillService? { all.first { $0.name == name } }
}

// MARK: - Processes

struct ProcessResult {
    let status: Int32
    let standardOutput: String
    let standardError: String

    var succeeded: Bool { status == 0 }
}

enum Command {
    /// Whether `name` is an executable on the PATH.
    static func isAvailable(_ name: String) -> Bool {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        return path.split(separator: ":").contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(name)") }
    }

    /// Runs `arguments[0]` (looked up on the PATH) to completion. Output goes through temporary files,
    /// so a chatty process can never block on a full pipe.
    static func run(
        _ arguments: [String], environment: [String: String]? = nil, directory: URL = Repository.root
    ) throws -> ProcessResult {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("deployment-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let outURL = scratch.appendingPathComponent("stdout")
        let errURL = scratch.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let out = try FileHandle(forWritingTo: outURL)
        let err = try FileHandle(forWritingTo: errURL)
        defer {
            try? out.close()
            try? err.close()
        }

        let process = try ChildProcess(
            executable: "/usr/bin/env", arguments: arguments,
            environment: environment ?? ProcessInfo.processInfo.environment, directory: directory.path,
            standardOutput: out.fileDescriptor, standardError: err.fileDescriptor)
        process.waitUntilExit()
        return ProcessResult(
            status: process.terminationStatus ?? -1,
            standardOutput: (try? String(contentsOf: outURL, encoding: .utf8)) ?? "",
            standardError: (try? String(contentsOf: errURL, encoding: .utf8)) ?? "")
    }

    /// A minimal environment, so that nothing in the caller's shell changes what is tested.
    static var cleanEnvironment: [String: String] {
        let current = ProcessInfo.processInfo.environment
        var environment = ["PATH": current["PATH"] ?? "/usr/local/bin:/usr/bin:/bin", "LC_ALL": "C.UTF-8"]
        environment["HOME"] = current["HOME"] ?? NSTemporaryDirectory()
        return environment
    }
}

// MARK: - YAML

enum YAML {
    /// Every document of a YAML text (`---`-separated).
    static func documents(_ text: String, file: String) throws -> [Node] {
        var sequence = try Yams.compose_all(yaml: text)
        var documents: [Node] = []
        while let document = sequence.next() { documents.append(document) }
        if let error = sequence.error { throw DeploymentTestError("\(file): \(error)") }
        return documents
    }

    static func document(_ text: String, file: String) throws -> Node {
        guard let node = try Yams.compose(yaml: text) else { throw DeploymentTestError("\(file): empty YAML") }
        return node
    }
}

extension Node {
    /// The scalar as a string (numbers and booleans included).
    var text: String? { scalar?.string }

    /// Children of a sequence; empty for anything else.
    var items: [Node] { sequence.map(Array.init) ?? [] }

    /// Key-value pairs of a mapping with string keys; empty for anything else.
    var entries: [(key: String, value: Node)] {
        mapping?.compactMap { pair in pair.key.text.map { (key: $0, value: pair.value) } } ?? []
    }

    /// A path of keys, e.g. `node["spec", "template", "spec"]`.
    subscript(path: String...) -> Node? {
        var node: Node? = self
        for key in path { node = node?[key] }
        return node
    }
}

struct DeploymentTestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

// MARK: - Durations

enum DurationText {
    /// Seconds in a Docker duration such as `30s`, `2m`, `1m30s` or `1h`; nil when it is not one.
    static func seconds(_ text: String) -> Double? {
        let units: [String: Double] = ["h": 3600, "m": 60, "s": 1, "ms": 0.001, "us": 0.000_001]
        var total = 0.0
        var rest = Substring(text)
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            let number = rest.prefix { $0.isNumber || $0 == "." }
            rest = rest.dropFirst(number.count)
            let unit = rest.prefix { !($0.isNumber || $0 == ".") }
            rest = rest.dropFirst(unit.count)
            guard let value = Double(number), let factor = units[String(unit)] else { return nil }
            total += value * factor
        }
        return total
    }
}

/// Kubernetes quantities of memory (`96Mi`, `1Gi`, `256M`) in bytes.
enum Quantity {
    static func bytes(_ text: String) -> Double? {
        let units: [(String, Double)] = [
            ("Ki", 1024), ("Mi", 1024 * 1024), ("Gi", 1024 * 1024 * 1024),
            ("k", 1000), ("M", 1_000_000), ("G", 1_000_000_000),
        ]
        for (suffix, factor) in units where text.hasSuffix(suffix) {
            return Double(text.dropLast(suffix.count)).map { $0 * factor }
        }
        return Double(text)
    }
}
