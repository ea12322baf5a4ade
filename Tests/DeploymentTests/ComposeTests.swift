import Contract
import Foundation
import Testing
import Yams

/// docker-compose.yml, as Debian's docker-compose (1.29) reads it.
@Suite(.enabled(if: Compose.isAvailable, "needs docker-compose (make test installs it)"))
struct ComposeTests {
    @Test("docker-compose config accepts the file", arguments: [nil, "sandbox"] as [String?])
    func configIsValid(profile: String?) throws {
        let config = try Compose.config(profile: profile)
        let services = Set(config["services"]?.entries.map(\.key) ?? [])
        for expected in ["kafka", "topics", "sandbox"] + CrossbillService.all.map(\.name) {
            #expect(services.contains(expected), "no service \(expected)")
        }
    }

    @Test("the sandbox is the only service behind a profile, and nothing else depends on it")
    func sandboxProfile() throws {
        let profiles = try Command.run(
            ["docker-compose", "--project-directory", Repository.root.path, "-f", "docker-compose.yml", "config", "--profiles"],
            environment: Command.cleanEnvironment)
        #expect(profiles.succeeded, "\(profiles.standardError)")
        #expect(profiles.standardOutput.split(separator: "\n").map(String.init) == ["sandbox"])

        let config = try Compose.config()
        for (name, service) in config["services"]?.entries ?? [] {
            let serviceProfiles = service["profiles"]?.items.compactMap(\.text) ?? []
            #expect(serviceProfiles == (name == "sandbox" ? ["sandbox"] : []), "\(name) has profiles \(serviceProfiles)")
            // A service outside the profile cannot wait for one inside it.
            let dependencies = service["depends_on"]?.entries.map(\.key) ?? service["depends_on"]?.items.compactMap(\.text) ?? []
            #expect(!dependencies.contains("sandbox"), "\(name) depends on the sandbox, which only runs with --profile sandbox")
        }
    }

    @Test("each Crossbill service has a health check, the bootstrap servers and its state volume", arguments: CrossbillService.all)
    func service(_ expected: CrossbillService) throws {
        let config = try Compose.config()
        let service = try #require(config["services", expected.name], "no service \(expected.name)")
        let environment = Compose.environment(of: service)
        let command = Compose.command(of: service)

        // Health check: /readyz on the port the service listens on.
        let check = service["healthcheck", "test"]?.items.compactMap(\.text) ?? []
        #expect(service["healthcheck", "disable"]?.bool != true)
        #expect(check.first == "CMD" || check.first == "CMD-SHELL", "health check \(check)")
        let port = environment["HTTP_PORT"].flatMap(Int.init) ?? expected.port
        #expect(check.joined(separator: " ").contains("localhost:\(port)/readyz"), "health check \(check) does not ask :\(port)/readyz")

        // Kafka: the compose broker, by its service name.
        let bootstrap = try #require(environment["KAFKA_BOOTSTRAP_SERVERS"], "no KAFKA_BOOTSTRAP_SERVERS")
        for server in bootstrap.split(separator: ",") {
            let host = String(server.split(separator: ":").first ?? "")
            #expect(config["services", host] != nil, "KAFKA_BOOTSTRAP_SERVERS names \(host), which is no service")
        }

        // State: the SQLite file lives on a named volume. Services with several replicas take a slot of
        // their own in it (state-slot); a plain path would put every replica on the same file.
        let replicas = service["deploy", "replicas"]?.int ?? 1
        let databaseDirectory: String
        if command.first == "state-slot" {
            #expect(command.count >= 5 && command[2] == expected.databaseVariable, "state-slot must set \(expected.databaseVariable): \(command)")
            #expect(command.last == expected.name, "state-slot must run \(expected.name): \(command)")
            databaseDirectory = command.count > 1 ? command[1] : ""
        } else {
            #expect(replicas == 1, "\(replicas) replicas of \(expected.name) would share one SQLite file; run it through state-slot")
            #expect(command == [expected.name], "command \(command)")
            let path = try #require(environment[expected.databaseVariable], "no \(expected.databaseVariable)")
            databaseDirectory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        }
        let volumes = Set(config["volumes"]?.entries.map(\.key) ?? [])
        let stateMount = Compose.mounts(of: service).first { databaseDirectory == $0.target || databaseDirectory.hasPrefix($0.target + "/") }
        #expect(stateMount?.isNamedVolume == true && volumes.contains(stateMount?.source ?? ""),
                "\(databaseDirectory) is not on a named volume: \(Compose.mounts(of: service).map { "\($0.source):\($0.target)" })")

        // Configuration file: mounted from the repository.
        if let file = environment["CROSSBILL_CONFIG"], !file.isEmpty {
            let mount = Compose.mounts(of: service).first { $0.target == file }
            #expect(mount.map { Repository.exists($0.source) } == true, "CROSSBILL_CONFIG \(file) is not a mounted file of the repository")
        }
        for mount in Compose.mounts(of: service) where !mount.isNamedVolume {
            #expect(Repository.exists(mount.source), "\(mount.source) does not exist")
        }

        // Starts once the topics exist, and shuts down within a period that covers its shutdown.
        #expect(service["depends_on", "topics", "condition"]?.text == "service_completed_successfully")
        let grace = service["stop_grace_period"]?.text.flatMap(DurationText.seconds) ?? 10
        #expect(grace >= GracePeriod.minimum(for: expected), "stop_grace_period \(grace) s is shorter than \(expected.name)'s shutdown")

        // Replicas: consumers run several, up to the partitions; ingest publishes a host port and runs one;
        // the notifier runs exactly one, whatever it consumes.
        if expected.singleReplica {
            #expect(replicas == 1, "\(expected.name) must run exactly one replica, not \(replicas): its store is the whole sync history")
            #expect(command.first != "state-slot", "\(expected.name) runs one replica and needs no state-slot: \(command)")
        } else if expected.consumes {
            #expect(replicas >= 2, "\(expected.name) should run several replicas")
            #expect(replicas <= TopicLayout.production.partitions)
        } else {
            #expect(replicas == 1)
        }
    }

    @Test("compose and Kubernetes give every service the same grace period", arguments: CrossbillService.all)
    func gracePeriodsAgree(_ expected: CrossbillService) throws {
        let config = try Compose.config()
        let compose = config["services", expected.name, "stop_grace_period"]?.text.flatMap(DurationText.seconds)
        let base = try Kustomization.load("deploy/base")
        let workload = base.workloads.first { $0.node["spec", "template", "metadata", "labels", "app.kubernetes.io/component"]?.text == expected.name }
        let kubernetes = workload?.node["spec", "template", "spec", "terminationGracePeriodSeconds"]?.int.map(Double.init)
        #expect(compose != nil && compose == kubernetes, "compose \(String(describing: compose)) s, Kubernetes \(String(describing: kubernetes)) s")
    }

    @Test("the topics job creates the topics with the production partition count")
    func topicsJob() throws {
        let config = try Compose.config()
        let command = Compose.command(of: try #require(config["services", "topics"]))
        #expect(Array(command.prefix(3)) == ["crossbill", "topics", "create"])
        let partitions = command.firstIndex(of: "--partitions").flatMap { command.indices.contains($0 + 1) ? Int(command[$0 + 1]) : nil }
        #expect(partitions == TopicLayout.production.partitions)
        #expect(config["services", "kafka", "healthcheck", "test"] != nil, "kafka needs a health check for the job to wait on")
        #expect(config["services", "topics", "depends_on", "kafka", "condition"]?.text == "service_healthy")
    }

    @Test("the writers point at the sandbox by default, on the ports the sandbox serves")
    func writersUseTheSandbox() throws {
        let config = try Compose.config(profile: "sandbox")
        let sandboxCommand = Compose.command(of: try #require(config["services", "sandbox"]))
        #expect(sandboxCommand.first == "sandbox")
        #expect(sandboxCommand.contains("0.0.0.0"), "the sandbox must listen on every interface to be reachable")
        let crm = Compose.environment(of: try #require(config["services", "crm-writer"]))
        let erp = Compose.environment(of: try #require(config["services", "erp-writer"]))
        #expect(crm["CRM_CONNECTION_SALESFORCE_LOGIN_URL"] == "http://sandbox:8091")
        #expect(erp["ERP_CONNECTION_NETSUITE_BASE_URL"] == "http://sandbox:8092")
        #expect(!sandboxCommand.contains("--salesforce-port") && !sandboxCommand.contains("--netsuite-port"),
                "the sandbox's default ports (8091, 8092) are the ones the writers use")
    }
}

/// The shortest grace period that covers a service's shutdown, from the timeouts in its shutdown path:
/// Kafka consumer close (10 s) and producer flush (the delivery timeout, 10 s; ingest 5 s) after the work
/// in hand (ingest: a request waits at most 5 s for Kafka; transform: its batch's produce, 10 s; the
/// writers: their batch's calls, each up to the request timeout, 30 s for Salesforce and 60 s for
/// NetSuite; the notifier: a dashboard replay's produce, its batch's refusals and the alert it is
/// publishing, 10 s each, one after the other, as its services stop in turn; its webhook deliveries
/// are cancelled and sent again after the restart).
enum GracePeriod {
    static func minimum(for service: CrossbillService) -> Double {
        switch service.name {
        case "ingest": 5 + 5 + 5  // preStop, requests in flight, producer flush
        case "transform": 10 + 10 + 10
        case "crm-writer": 30 + 10 + 10 + 10
        case "erp-writer": 60 + 10 + 10 + 10
        case "notifier": 10 + 10 + 10 + 10 + 10  // replay request, batch, commit and leave, alert, flush
        default: 30
        }
    }
}
