import CRMWriter
import Configuration
import Contract
import ERPWriter
import Foundation
import Ingest
import Kafka
import NetSuiteClient
import Notifier
import ServiceRuntime
import Testing
import Transform
import Yams

/// The settings compose and Kubernetes give each service, read by that service's own configuration
/// code: a key the service does not accept, a missing required setting or a mapping file that does
/// not load fails here instead of at start-up in a cluster.
struct ServiceConfigurationTests {
    /// The NetSuite account concurrency limit the deployment files are sized for (the sandbox's, and a
    /// standard account's).
    static let netsuiteAccountLimit = 5

    @Test("compose's environment and config files are accepted by each service", .enabled(if: Compose.isAvailable),
          arguments: CrossbillService.all)
    func compose(_ service: CrossbillService) async throws {
        let config = try Compose.config()
        let node = try #require(config["services", service.name])
        var environment = Compose.environment(of: node)
        // Container paths → the repository files compose mounts there.
        let mounts = Compose.mounts(of: node).filter { !$0.isNamedVolume }
        for (key, value) in environment {
            if let mount = mounts.first(where: { $0.target == value }) { environment[key] = mount.source }
        }
        let mappingFiles = Dictionary(mounts.map { ($0.target, $0.source) }) { first, _ in first }
        let replicas = node["deploy", "replicas"]?.int ?? 1
        try await Self.check(service, environment: environment, files: mappingFiles, replicas: replicas)
    }

    @Test("Kubernetes' environment, Secrets and config files are accepted by each service", arguments: CrossbillService.all)
    func kubernetes(_ service: CrossbillService) async throws {
        let base = try Kustomization.load("deploy/base")
        let workload = try #require(base.manifest(kind: "StatefulSet", name: "crossbill-\(service.name)"))
        let container = try #require(workload.node["spec", "template", "spec", "containers"]?.items.first)
        var environment: [String: String] = [:]
        for source in container["envFrom"]?.items ?? [] {
            if source["configMapRef", "name"]?.text == "crossbill-environment" {
                environment.merge(Kustomization.environmentFile(try Repository.text("deploy/base/environment.env"))) { _, new in new }
            }
            if let name = source["secretRef", "name"]?.text {
                let secret = try #require(base.manifest(kind: "Secret", name: name))
                for (key, value) in secret.node["stringData"]?.entries ?? [] { environment[key] = value.text ?? "" }
            }
        }
        environment.merge(KubernetesTests.environment(of: container)) { _, new in new }
        // /etc/crossbill/<dir>/<file> comes from deploy/base/config[/<dir>]/<file>.
        var files: [String: String] = [:]
        for file in Repository.files(under: "deploy/base/config", endingWith: [".json"]) {
            let relative = file.dropFirst("deploy/base/config/".count)
            let directory = relative.contains("/") ? "" : "config/"
            files["/etc/crossbill/\(directory)\(relative)"] = Repository.url(file).path
        }
        if let config = environment["CROSSBILL_CONFIG"] { environment["CROSSBILL_CONFIG"] = files[config] ?? config }
        let replicas = workload.node["spec", "replicas"]?.int ?? 1
        try await Self.check(service, environment: environment, files: files, replicas: replicas)
    }

    /// Reads `service`'s configuration from `environment` the way its executable does. `files` maps the
    /// container paths of mounted files to the repository's.
    static func check(_ service: CrossbillService, environment: [String: String], files: [String: String], replicas: Int) async throws {
        var environment = environment
        let configFile = try #require(environment["CROSSBILL_CONFIG"], "\(service.name): no CROSSBILL_CONFIG")
        #expect(FileManager.default.fileExists(atPath: configFile), "\(service.name): \(configFile) is not a repository file")
        // Mapping files named in the config file: point them at the repository's copies.
        if service.name == "transform",
           let data = FileManager.default.contents(atPath: configFile),
           let json = try JSONSerialization.jsonObject(with: data) as? [String: Any],
           let connections = (json["transform"] as? [String: Any])?["connection"] as? [String: [String: Any]] {
            for (name, connection) in connections {
                guard let path = connection["mappingFile"] as? String else { continue }
                let variable = "TRANSFORM_CONNECTION_\(name.uppercased().replacingOccurrences(of: "-", with: "_"))_MAPPING_FILE"
                let containerPath = environment[variable] ?? path
                let local = try #require(files[containerPath], "\(service.name): \(containerPath) is not mounted")
                environment[variable] = local
            }
        }
        #expect(environment["KAFKA_BOOTSTRAP_SERVERS"]?.isEmpty == false)
        #expect(environment[service.databaseVariable]?.hasPrefix("/var/lib/crossbill/\(service.name)/") ?? true,
                "\(service.name): \(service.databaseVariable) outside its state directory")

        let loader = try await ServiceConfigurationLoader(environment: environment, arguments: [service.name])
        let reader = loader.reader
        switch service.name {
        case "ingest":
            let configuration = try IngestConfiguration(config: reader)
            #expect(!configuration.organizations.isEmpty)
        case "transform":
            let configuration = try TransformConfiguration(config: reader)
            let connections = try configuration.loadConnections()
            #expect(Set(connections.map(\.system)) == [.salesforce, .netsuite])
        case "crm-writer":
            let configuration = try CRMWriterConfiguration(config: reader)
            #expect(configuration.connections.count == 1)
        case "erp-writer":
            let configuration = try ERPWriterConfiguration(config: reader)
            let limit = try #require(configuration.connections.first?.concurrencyLimit)
            #expect(replicas * limit <= netsuiteAccountLimit,
                    "\(replicas) replicas x concurrencyLimit \(limit) exceed the NetSuite account's \(netsuiteAccountLimit)")
        case "notifier":
            // No endpoint is configured by default; one that is must resolve, which this test does not
            // ask of the machine it runs on.
            let configuration = try NotifierConfiguration(config: reader)
            #expect(configuration.databasePath == environment[service.databaseVariable], "the store is not where the volume is")
            #expect(!configuration.allowPrivateAddresses,
                    "notifier.allowPrivateAddresses lets webhooks reach internal services; it is for a receiver of your own, not a default")
            #expect(["http", "https"].contains(URL(string: configuration.publicURL)?.scheme ?? ""), "notifier.publicUrl \(configuration.publicURL)")
            #expect(replicas == 1, "\(replicas) replicas of the notifier would each record part of sync.results")
        default:
            Issue.record("no check for \(service.name)")
        }
        _ = KafkaClientConfiguration(config: reader, serviceName: service.name)
        _ = LogSettings(config: reader)
        try loader.validate()
    }
}
