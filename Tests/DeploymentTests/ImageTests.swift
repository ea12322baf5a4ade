import Foundation
import Testing

/// The Dockerfile against the package and the binaries: the products it ships, and the runtime
/// packages it installs against what those binaries link.
struct ImageTests {
    /// Runtime packages that are no library of the binaries, and why the image has them.
    static let nonLibraryPackages: [String: String] = [
        "ca-certificates": "TLS to Kafka, Salesforce, NetSuite and webhook endpoints",
        "tzdata": "time zones",
        "curl": "the health checks in docker-compose.yml",
    ]

    /// The GCC runtime the Swift runtime needs; it comes with no -dev package of the build stage.
    static let compilerRuntimePackages: Set<String> = ["libstdc++6", "libgcc-s1"]

    @Test("the image ships every executable the deployment files run, and Package.swift has them all")
    func productsCoverTheCommands() throws {
        let dockerfile = try Dockerfile.load()
        let products = dockerfile.products
        #expect(Set(products).isSuperset(of: CrossbillService.all.map(\.name) + ["crossbill", "sandbox"]), "PRODUCTS: \(products)")
        let manifest = try Repository.text("Package.swift")
        for product in products {
            #expect(manifest.contains(".executable(name: \"\(product)\""), "\(product) is not a product of Package.swift")
        }
        let executables = Set(products + dockerfile.copiedExecutables)

        var commands: [String] = []
        if Compose.isAvailable {
            let config = try Compose.config(profile: "sandbox")
            for (name, service) in config["services"]?.entries ?? [] where service["image"]?.text == "crossbill:latest" {
                let command = Compose.command(of: service)
                #expect(!command.isEmpty, "\(name) relies on the image's default command")
                commands += command.first.map { [$0] } ?? []
                if command.first == "state-slot", command.count >= 5 { commands.append(command[4]) }
            }
        }
        for workload in try Kustomization.load("deploy/base").workloads {
            for container in workload.node["spec", "template", "spec", "containers"]?.items ?? [] {
                commands += container["command"]?.items.first?.text.map { [$0] } ?? []
            }
        }
        #expect(commands.count >= CrossbillService.all.count)
        for command in commands {
            #expect(executables.contains(command), "\(command) is not in the image")
        }
    }

    @Test("the image runs as a non-root user, on the build stage's Debian release")
    func runtimeStage() throws {
        let dockerfile = try Dockerfile.load()
        let build = try #require(dockerfile.buildStage)
        let runtime = try #require(dockerfile.runtimeStage)
        #expect(dockerfile.stages.count >= 2)
        let release = try #require(build.base.split(separator: "-").last.map(String.init), "build base \(build.base)")
        #expect(runtime.base.contains(release), "runtime \(runtime.base) is not Debian \(release), as the build stage \(build.base)")
        let user = runtime.instructions.last { $0.keyword == "USER" }?.arguments ?? "root"
        let uid = user.split(separator: ":").first.map(String.init) ?? user
        #expect(uid != "root" && uid != "0", "the image runs as \(user)")
        for source in dockerfile.contextSources where !source.contains("*") {
            #expect(Repository.exists(source), "COPY \(source): no such file")
        }
        let ignored = try Repository.text(".dockerignore").split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        for source in dockerfile.contextSources {
            let top = String(source.split(separator: "/").first ?? "")
            #expect(!ignored.contains(top) && !ignored.contains(source), ".dockerignore leaves \(source) out of the build context")
        }
    }

    @Test("the runtime packages are exactly the libraries the binaries link")
    func runtimePackagesMatchTheLinkedLibraries() throws {
        let dockerfile = try Dockerfile.load()
        let runtime = Set(try #require(dockerfile.runtimeStage).aptInstalledPackages)
        let build = try #require(dockerfile.buildStage).aptInstalledPackages
        #expect(!runtime.isEmpty && !build.isEmpty, "no apt-get install found")

        let binaries = try Self.builtBinaries(dockerfile.products)
        var packages = Packages()
        var linked = Set<String>()  // packages the binaries (and the Swift runtime they contain) need directly
        var loaded = Set<String>()  // every package of the libraries ldd loads, dependencies included
        for binary in binaries {
            let libraries = try Self.ldd(binary)
            let toolchain = libraries["libswiftCore.so"].map { URL(fileURLWithPath: $0).deletingLastPathComponent().path }
            func isToolchain(_ path: String) -> Bool { toolchain.map { path.hasPrefix($0 + "/") } ?? false }
            // The release image links the Swift runtime statically: what it needs, the binary needs.
            let objects = [binary.path] + libraries.values.filter(isToolchain)
            for object in objects {
                for soname in try Self.needed(object) {
                    guard let path = libraries[soname] else {
                        Issue.record("\(binary.lastPathComponent): \(soname) does not resolve")
                        continue
                    }
                    if isToolchain(path) { continue }
                    linked.insert(try packages.owner(of: path))
                }
            }
            for (soname, path) in libraries where !isToolchain(path) && !soname.hasPrefix("ld-linux") {
                loaded.insert(try packages.owner(of: path))
            }
        }
        // glibc is the base image itself, and the same release in both stages.
        linked.remove("libc6")

        let runtimeLibraries = runtime.subtracting(Self.nonLibraryPackages.keys)
        #expect(linked.isSubset(of: runtime), "linked but not installed: \(linked.subtracting(runtime).sorted())")
        #expect(runtimeLibraries.isSubset(of: linked), "installed but linked by no binary: \(runtimeLibraries.subtracting(linked).sorted())")
        for extra in runtime.subtracting(linked) {
            #expect(Self.nonLibraryPackages[extra] != nil, "\(extra) is neither linked nor a known tool")
        }

        // Each -dev package of the build stage has its runtime half in the image, and every C library the
        // binaries link comes from one of them (or is the compiler's runtime).
        var fromDevelopment = Set<String>()
        for package in build where package.hasSuffix("-dev") {
            let halves = try packages.exactDependencies(of: package).intersection(linked)
            #expect(!halves.isEmpty, "\(package): none of its runtime packages is linked")
            fromDevelopment.formUnion(halves)
        }
        #expect(linked.subtracting(Self.compilerRuntimePackages).isSubset(of: fromDevelopment),
                "linked, but from no -dev package of the build stage: \(linked.subtracting(Self.compilerRuntimePackages).subtracting(fromDevelopment).sorted())")

        // Everything ldd loads arrives with the listed packages (their dependencies) or is in every Debian.
        let installed = try packages.closure(of: runtime.union(["libc6"]))
        #expect(loaded.isSubset(of: installed), "loaded, but installed by nothing in the list: \(loaded.subtracting(installed).sorted())")
    }

    // MARK: - Helpers

    /// The debug build of each product, next to the test runner (swift build --build-tests builds them).
    static func builtBinaries(_ products: [String]) throws -> [URL] {
        let runner = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var directory = URL(fileURLWithPath: runner).deletingLastPathComponent()
        // The runner may sit inside an .xctest bundle directory.
        if directory.pathExtension == "xctest" { directory.deleteLastPathComponent() }
        return try products.map { product in
            let binary = directory.appendingPathComponent(product)
            guard FileManager.default.isExecutableFile(atPath: binary.path) else {
                throw DeploymentTestError("\(binary.path) is missing: build every product first (swift build --build-tests)")
            }
            return binary
        }
    }

    /// soname → resolved path of every library `ldd` loads for `binary`.
    static func ldd(_ binary: URL) throws -> [String: String] {
        let result = try Command.run(["ldd", binary.path])
        guard result.succeeded else { throw DeploymentTestError("ldd \(binary.path): \(result.standardError)") }
        var libraries: [String: String] = [:]
        for line in result.standardOutput.split(separator: "\n") {
            let parts = line.split(whereSeparator: \.isWhitespace).map(String.init)
            guard let soname = parts.first else { continue }
            if parts.count >= 3, parts[1] == "=>" {
                guard parts[2] != "not" else { throw DeploymentTestError("\(binary.lastPathComponent): \(soname) not found") }
                libraries[soname] = parts[2]
            } else if soname.hasPrefix("/") {
                libraries[URL(fileURLWithPath: soname).lastPathComponent] = soname
            }
        }
        return libraries
    }

    /// The DT_NEEDED entries of an ELF file.
    static func needed(_ path: String) throws -> [String] {
        let result = try Command.run(["readelf", "--dynamic", "--wide", path])
        guard result.succeeded else { throw DeploymentTestError("readelf \(path): \(result.standardError)") }
        return result.standardOutput.split(separator: "\n").compactMap { line in
            guard line.contains("(NEEDED)"), let open = line.lastIndex(of: "["), let close = line.lastIndex(of: "]") else { return nil }
            return String(line[line.index(after: open)..<close])
        }
    }
}

/// The Debian package database of this machine (dpkg), with answers cached.
struct Packages {
    private var owners: [String: String] = [:]
    private var dependencies: [String: [[String]]] = [:]

    /// The package that installed the file at `path`. On merged-/usr systems ldd names /lib paths that
    /// dpkg may know under /usr/lib, and the other way round, so both are tried, then the link target.
    mutating func owner(of path: String) throws -> String {
        if let owner = owners[path] { return owner }
        var candidates = [path]
        candidates.append(path.hasPrefix("/usr/") ? String(path.dropFirst(4)) : "/usr" + path)
        let real = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        candidates += [real, real.hasPrefix("/usr/") ? String(real.dropFirst(4)) : "/usr" + real]
        for candidate in candidates {
            let result = try Command.run(["dpkg-query", "--search", candidate])
            guard result.succeeded, let line = result.standardOutput.split(separator: "\n").first,
                  let colon = line.range(of: ": ") else { continue }
            let package = line[..<colon.lowerBound].split(separator: ",").first.map { String($0.split(separator: ":").first ?? $0) } ?? ""
            owners[path] = package.trimmingCharacters(in: .whitespaces)
            return owners[path]!
        }
        throw DeploymentTestError("no Debian package installed \(path)")
    }

    /// Depends and Pre-Depends of an installed package: each inner list holds alternatives.
    mutating func dependencies(of package: String) throws -> [[String]] {
        if let known = dependencies[package] { return known }
        let result = try Command.run(["dpkg-query", "--show", "--showformat=${Pre-Depends}, ${Depends}", package])
        guard result.succeeded else {
            dependencies[package] = []
            return []
        }
        let groups = result.standardOutput.split(separator: ",").map { group in
            group.split(separator: "|").compactMap { alternative -> String? in
                let name = alternative.trimmingCharacters(in: .whitespaces).prefix { !$0.isWhitespace && $0 != "(" }
                let bare = name.split(separator: ":").first.map(String.init) ?? String(name)
                return bare.isEmpty ? nil : bare
            }
        }.filter { !$0.isEmpty }
        dependencies[package] = groups
        return groups
    }

    /// The packages a -dev package pins to its own version: its runtime halves.
    mutating func exactDependencies(of package: String) throws -> Set<String> {
        let result = try Command.run(["dpkg-query", "--show", "--showformat=${Depends}", package])
        guard result.succeeded else { throw DeploymentTestError("\(package) is not installed: \(result.standardError)") }
        return Set(result.standardOutput.split(separator: ",").compactMap { dependency -> String? in
            let text = dependency.trimmingCharacters(in: .whitespaces)
            guard text.contains("(= ") else { return nil }
            return String(text.prefix { !$0.isWhitespace && $0 != "(" && $0 != ":" })
        })
    }

    /// The packages and everything they depend on, as far as this machine has them installed.
    mutating func closure(of roots: Set<String>) throws -> Set<String> {
        var seen = Set<String>()
        var queue = Array(roots)
        while let package = queue.popLast() {
            guard seen.insert(package).inserted else { continue }
            for alternatives in try dependencies(of: package) {
                queue += alternatives.filter { !seen.contains($0) }
            }
        }
        return seen
    }
}
