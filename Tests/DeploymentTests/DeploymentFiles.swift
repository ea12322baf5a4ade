import Foundation
import Testing
import Yams

// MARK: - Dockerfile

/// The parts of the Dockerfile the tests read: its stages, their packages, the products built.
struct Dockerfile {
    struct Instruction {
        let keyword: String
        let arguments: String
    }

    struct Stage {
        let base: String
        var instructions: [Instruction]

        /// Every package named by an `apt-get install` in this stage's RUN instructions.
        var aptInstalledPackages: [String] {
            var packages: [String] = []
            for instruction in instructions where instruction.keyword == "RUN" {
                var rest = Substring(instruction.arguments)
                while let range = rest.range(of: "apt-get install") {
                    let tail = rest[range.upperBound...]
                    let end = tail.firstRange(of: "&&")?.lowerBound ?? tail.firstIndex(of: ";") ?? tail.endIndex
                    packages += tail[..<end].split(separator: " ").map(String.init).filter { !$0.hasPrefix("-") }
                    rest = tail[end...]
                }
            }
            return packages
        }
    }

    let stages: [Stage]

    init(text: String) {
        var stages: [Stage] = []
        var logical: [String] = []
        var current = ""
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("#") { continue }
            if line.hasSuffix("\\") {
                current += line.dropLast() + " "
            } else {
                current += line
                if !current.trimmingCharacters(in: .whitespaces).isEmpty { logical.append(current) }
                current = ""
            }
        }
        for line in logical {
            let keyword = String(line.prefix { !$0.isWhitespace }).uppercased()
            let arguments = line.dropFirst(keyword.count).trimmingCharacters(in: .whitespaces)
            if keyword == "FROM" {
                stages.append(Stage(base: String(arguments.split(separator: " ").first ?? ""), instructions: []))
            } else if !stages.isEmpty {
                stages[stages.count - 1].instructions.append(Instruction(keyword: keyword, arguments: arguments))
            }
        }
        self.stages = stages
    }

    static func load() throws -> Dockerfile { Dockerfile(text: try Repository.text("Dockerfile")) }

    var buildStage: Stage? { stages.first }
    var runtimeStage: Stage? { stages.last }

    /// The executables the image ships: the default of `ARG PRODUCTS`.
    var products: [String] {
        for stage in stages {
            for instruction in stage.instructions where instruction.keyword == "ARG" && instruction.arguments.hasPrefix("PRODUCTS=") {
                let value = instruction.arguments.dropFirst("PRODUCTS=".count).trimmingCharacters(in: CharacterSet(charactersIn: "\"'"))
                return value.split(separator: " ").map(String.init)
            }
        }
        return []
    }

    /// Files the image installs besides the built products: `COPY <source> /usr/local/bin/<name>`.
    var copiedExecutables: [String] {
        (runtimeStage?.instructions ?? []).compactMap { instruction in
            guard instruction.keyword == "COPY", !instruction.arguments.hasPrefix("--from") else { return nil }
            let parts = instruction.arguments.split(separator: " ")
            guard parts.count == 2, parts[1].hasPrefix("/usr/local/bin/") else { return nil }
            return String(parts[1].dropFirst("/usr/local/bin/".count))
        }
    }

    /// Sources of COPY instructions that read the build context.
    var contextSources: [String] {
        stages.flatMap(\.instructions).filter { $0.keyword == "COPY" && !$0.arguments.hasPrefix("--from") }.flatMap { instruction in
            instruction.arguments.split(separator: " ").dropLast().map(String.init)
        }
    }
}

// MARK: - Kubernetes

/// One parsed manifest document and where it came from.
struct Manifest {
    let file: String
    let node: Node

    var kind: String { node["kind"]?.text ?? "" }
    var name: String { node["metadata", "name"]?.text ?? "" }
}

/// What a kustomization puts together: its resources (recursively) and its generated ConfigMaps and
/// Secrets, with the keys each holds.
struct Kustomization {
    let directory: String
    var manifests: [Manifest] = []
    var configMapKeys: [String: Set<String>] = [:]
    var secretKeys: [String: Set<String>] = [:]
    /// Files named by the kustomizations (resources, generator sources) that do not exist.
    var missingFiles: [String] = []
    /// The patches of every kustomization included (`patches`, `patchesStrategicMerge`,
    /// `patchesJson6902`), as written there.
    var patches: [Patch] = []
    /// The `replicas` field of every kustomization included: workload name → count.
    var replicaCounts: [String: Int] = [:]

    /// One entry of a kustomization's patch lists.
    struct Patch {
        /// The kustomization's directory, against which a patch file's path resolves.
        let directory: String
        let node: Node

        /// The patch itself: inline, or read from its file.
        var text: String {
            if let inline = node["patch"]?.text { return inline }
            if let path = node["path"]?.text { return (try? Repository.text("\(directory)/\(path)")) ?? "" }
            // A patchesStrategicMerge entry: a file path, or the patch inline.
            if let entry = node.text {
                if !entry.contains("\n"), let file = try? Repository.text("\(directory)/\(entry)") { return file }
                return entry
            }
            return ""
        }

        /// Whether kustomize may apply it to the resource `kind`/`name`: its target selects it (target
        /// names and kinds are regular expressions; a target without a name takes every resource of
        /// its kind), or, without a target, the patch names it.
        func mayApply(toKind kind: String, name: String) -> Bool {
            guard let target = node["target"] else { return text.contains(name) }
            func matches(_ pattern: String?, _ value: String) -> Bool {
                guard let pattern else { return true }
                guard let expression = try? NSRegularExpression(pattern: "^(?:\(pattern))$") else { return pattern == value }
                return expression.firstMatch(in: value, range: NSRange(value.startIndex..., in: value)) != nil
            }
            return matches(target["kind"]?.text, kind) && matches(target["name"]?.text, name)
        }
    }

    static func load(_ directory: String) throws -> Kustomization {
        var kustomization = Kustomization(directory: directory)
        try kustomization.include(directory)
        return kustomization
    }

    private mutating func include(_ directory: String) throws {
        let file = "\(directory)/kustomization.yaml"
        let root = try YAML.document(try Repository.text(file), file: file)
        for key in ["patches", "patchesStrategicMerge", "patchesJson6902"] {
            patches += (root[key]?.items ?? []).map { Patch(directory: directory, node: $0) }
        }
        for entry in root["replicas"]?.items ?? [] {
            if let name = entry["name"]?.text, let count = entry["count"]?.int { replicaCounts[name] = count }
        }
        for entry in root["resources"]?.items ?? [] {
            guard let path = entry.text else { continue }
            let resolved = Self.normalize("\(directory)/\(path)")
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: Repository.url(resolved).path, isDirectory: &isDirectory) else {
                missingFiles.append("\(file): resource \(path)")
                continue
            }
            if isDirectory.boolValue {
                try include(resolved)
            } else {
                for document in try YAML.documents(try Repository.text(resolved), file: resolved) where document.mapping != nil {
                    let manifest = Manifest(file: resolved, node: document)
                    manifests.append(manifest)
                    if manifest.kind == "ConfigMap" {
                        configMapKeys[manifest.name, default: []].formUnion(Self.keys(document, ["data", "binaryData"]))
                    } else if manifest.kind == "Secret" {
                        secretKeys[manifest.name, default: []].formUnion(Self.keys(document, ["data", "stringData"]))
                    }
                }
            }
        }
        for generator in root["configMapGenerator"]?.items ?? [] {
            guard let name = generator["name"]?.text else { continue }
            configMapKeys[name, default: []].formUnion(generatedKeys(generator, directory: directory, file: file))
        }
        for generator in root["secretGenerator"]?.items ?? [] {
            guard let name = generator["name"]?.text else { continue }
            secretKeys[name, default: []].formUnion(generatedKeys(generator, directory: directory, file: file))
        }
    }

    private static func keys(_ document: Node, _ sections: [String]) -> Set<String> {
        Set(sections.flatMap { document[$0]?.entries.map(\.key) ?? [] })
    }

    /// Keys of a generator: `files` (the file name, or `key=path`), `literals` (`KEY=value`) and `envs`
    /// (one `KEY=value` per line of each file).
    private mutating func generatedKeys(_ generator: Node, directory: String, file: String) -> Set<String> {
        var keys = Set<String>()
        for entry in generator["files"]?.items.compactMap(\.text) ?? [] {
            let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
            let path = parts.count == 2 ? parts[1] : parts[0]
            if !Repository.exists("\(directory)/\(path)") { missingFiles.append("\(file): file \(path)") }
            keys.insert(parts.count == 2 ? parts[0] : URL(fileURLWithPath: path).lastPathComponent)
        }
        for literal in generator["literals"]?.items.compactMap(\.text) ?? [] {
            keys.insert(String(literal.prefix { $0 != "=" }))
        }
        for path in generator["envs"]?.items.compactMap(\.text) ?? [] {
            guard let text = try? Repository.text("\(directory)/\(path)") else {
                missingFiles.append("\(file): env file \(path)")
                continue
            }
            keys.formUnion(Self.environmentFile(text).keys)
        }
        return keys
    }

    /// `KEY=value` lines; blank lines and `#` comments are skipped.
    static func environmentFile(_ text: String) -> [String: String] {
        var values: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard !trimmed.isEmpty, !trimmed.hasPrefix("#"), let equals = trimmed.firstIndex(of: "=") else { continue }
            values[String(trimmed[..<equals])] = String(trimmed[trimmed.index(after: equals)...])
        }
        return values
    }

    private static func normalize(_ path: String) -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/") {
            if part == "." { continue }
            if part == "..", let last = parts.last, last != ".." { parts.removeLast() } else { parts.append(part) }
        }
        return parts.joined(separator: "/")
    }

    var workloads: [Manifest] { manifests.filter { ["Deployment", "StatefulSet", "DaemonSet"].contains($0.kind) } }

    func manifest(kind: String, name: String) -> Manifest? {
        manifests.first { $0.kind == kind && $0.name == name }
    }
}

// MARK: - docker-compose

/// `docker-compose config`: the compose file as Compose itself reads it (validated, interpolated with
/// the defaults, relative paths made absolute).
enum Compose {
    static func config(profile: String? = nil) throws -> Node {
        var arguments = ["docker-compose", "--project-directory", Repository.root.path, "-f", "docker-compose.yml"]
        if let profile { arguments += ["--profile", profile] }
        let result = try Command.run(arguments + ["config"], environment: Command.cleanEnvironment)
        guard result.succeeded else {
            throw DeploymentTestError("docker-compose config failed (\(result.status)): \(result.standardError)")
        }
        return try YAML.document(result.standardOutput, file: "docker-compose config")
    }

    static var isAvailable: Bool { Command.isAvailable("docker-compose") }

    /// A service's environment as name → value, whichever syntax the file uses.
    static func environment(of service: Node) -> [String: String] {
        if let node = service["environment"], node.mapping != nil {
            return Dictionary(node.entries.map { ($0.key, $0.value.text ?? "") }) { first, _ in first }
        }
        var values: [String: String] = [:]
        for item in service["environment"]?.items.compactMap(\.text) ?? [] {
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            values[parts[0]] = parts.count == 2 ? parts[1] : ""
        }
        return values
    }

    struct Mount {
        let source: String
        let target: String
        /// A named volume rather than a path on the host.
        var isNamedVolume: Bool { !source.hasPrefix("/") && !source.hasPrefix(".") && !source.hasPrefix("~") }
    }

    static func mounts(of service: Node) -> [Mount] {
        service["volumes"]?.items.compactMap { item -> Mount? in
            if let short = item.text {
                let parts = short.split(separator: ":").map(String.init)
                guard parts.count >= 2 else { return nil }
                return Mount(source: parts[0], target: parts[1])
            }
            guard let source = item["source"]?.text, let target = item["target"]?.text else { return nil }
            return Mount(source: source, target: target)
        } ?? []
    }

    static func command(of service: Node) -> [String] {
        if let text = service["command"]?.text { return text.split(separator: " ").map(String.init) }
        return service["command"]?.items.compactMap(\.text) ?? []
    }
}

// Short descriptions, so that a failed expectation does not print whole YAML trees.
extension Manifest: CustomStringConvertible {
    var description: String { "\(kind) \(name) (\(file))" }
}

extension Kustomization: CustomStringConvertible {
    var description: String { "kustomization \(directory) (\(manifests.count) manifests)" }
}
