import CommandWriting
import Contract
import Foundation
import ServiceRuntime
import Testing
import Transform
import Yams

/// The manifests under deploy/: the kustomize base and the KEDA overlay.
struct KubernetesTests {
    @Test("every YAML file under deploy/ parses, and every document names its apiVersion and kind")
    func everyManifestParses() throws {
        let files = Repository.files(under: "deploy", endingWith: [".yaml", ".yml"])
        #expect(files.count >= 8, "only \(files)")
        for file in files {
            let documents = try YAML.documents(try Repository.text(file), file: file)
            #expect(!documents.isEmpty, "\(file) is empty")
            for document in documents {
                #expect(document["apiVersion"]?.text?.isEmpty == false, "\(file): a document without apiVersion")
                #expect(document["kind"]?.text?.isEmpty == false, "\(file): a document without kind")
            }
        }
    }

    @Test("the kustomizations name only files that exist", arguments: ["deploy/base", "deploy/overlays/keda"])
    func kustomizationFilesExist(_ directory: String) throws {
        let kustomization = try Kustomization.load(directory)
        #expect(kustomization.missingFiles.isEmpty, "\(kustomization.missingFiles)")
    }

    @Test("each Crossbill service has a StatefulSet with its probes, resources, grace period and volume", arguments: CrossbillService.all)
    func workload(_ expected: CrossbillService) throws {
        let base = try Kustomization.load("deploy/base")
        let workload = try #require(base.manifest(kind: "StatefulSet", name: "crossbill-\(expected.name)"),
                                    "no StatefulSet crossbill-\(expected.name)")
        let container = try #require(workload.node["spec", "template", "spec", "containers"]?.items.first)
        #expect(container["command"]?.items.compactMap(\.text) == [expected.name])
        let environment = Self.environment(of: container)
        #expect(environment["HTTP_PORT"] == String(expected.port))
        #expect(environment[expected.databaseVariable] != nil, "no \(expected.databaseVariable)")
        if expected.singleReplica {
            // Written out, so that nobody mistakes the default for an oversight and raises it.
            #expect(workload.node["spec", "replicas"]?.int == 1, "\(expected.name) must run exactly one replica: spec.replicas 1")
        } else {
            let replicas = workload.node["spec", "replicas"]?.int ?? 1
            #expect(replicas >= 2, "\(expected.name) should run more than one replica")
            #expect(replicas <= TopicLayout.production.partitions)
        }
    }

    @Test("every workload has probes, resources, a grace period, persistent state and a disruption budget")
    func everyWorkload() throws {
        let base = try Kustomization.load("deploy/base")
        #expect(base.workloads.count >= CrossbillService.all.count)
        for workload in base.workloads {
            for problem in Self.problems(of: workload, in: base) {
                Issue.record("\(workload.file): \(workload.kind) \(workload.name): \(problem)")
            }
        }
    }

    @Test("every ConfigMap and Secret a workload refers to exists in the kustomization, with the keys it reads",
          arguments: ["deploy/base", "deploy/overlays/keda"])
    func referencesResolve(_ directory: String) throws {
        let kustomization = try Kustomization.load(directory)
        for workload in kustomization.workloads {
            for problem in Self.referenceProblems(of: workload, in: kustomization) {
                Issue.record("\(workload.file): \(workload.kind) \(workload.name): \(problem)")
            }
        }
    }

    @Test("the files the configuration names are mounted: CROSSBILL_CONFIG and transform's mapping files")
    func configuredFilesAreMounted() throws {
        let base = try Kustomization.load("deploy/base")
        for workload in base.workloads {
            let podSpec = try #require(workload.node["spec", "template", "spec"])
            for container in podSpec["containers"]?.items ?? [] {
                let environment = Self.environment(of: container)
                guard let file = environment["CROSSBILL_CONFIG"] else {
                    Issue.record("\(workload.name): no CROSSBILL_CONFIG")
                    continue
                }
                #expect(Self.configMapKey(mountedAt: file, podSpec: podSpec, container: container, in: base) != nil,
                        "\(workload.name): \(file) is not in a mounted ConfigMap")
                // The mapping files a transform configuration names.
                guard let key = Self.configMapKey(mountedAt: file, podSpec: podSpec, container: container, in: base),
                      let data = try? Data(contentsOf: Repository.url("deploy/base/config/\(key)")),
                      let json = try JSONSerialization.jsonObject(with: data) as? [String: Any],
                      let transform = json["transform"] as? [String: Any],
                      let connections = transform["connection"] as? [String: [String: Any]] else { continue }
                for (name, connection) in connections {
                    guard let mapping = connection["mappingFile"] as? String else { continue }
                    #expect(Self.configMapKey(mountedAt: mapping, podSpec: podSpec, container: container, in: base) != nil,
                            "\(workload.name): connection \(name)'s mapping file \(mapping) is not in a mounted ConfigMap")
                }
            }
        }
    }

    @Test("the Services of ingest (webhooks) and the notifier (dashboard) reach the service's HTTP port",
          arguments: ["ingest", "notifier"])
    func frontService(_ name: String) throws {
        let base = try Kustomization.load("deploy/base")
        let service = try #require(base.manifest(kind: "Service", name: "crossbill-\(name)"))
        let workload = try #require(base.manifest(kind: "StatefulSet", name: "crossbill-\(name)"))
        #expect(service.node["spec", "clusterIP"]?.text != "None", "crossbill-\(name) must not be headless: it is the one clients use")
        #expect((service.node["spec", "type"]?.text ?? "ClusterIP") == "ClusterIP", "expose crossbill-\(name) through your ingress")
        let labels = Self.stringMap(workload.node["spec", "template", "metadata", "labels"])
        let selector = Self.stringMap(service.node["spec", "selector"])
        #expect(!selector.isEmpty && selector.allSatisfy { labels[$0.key] == $0.value }, "selector \(selector) does not select \(labels)")
        let ports = workload.node["spec", "template", "spec", "containers"]?.items.first?["ports"]?.items ?? []
        let target = try #require(service.node["spec", "ports"]?.items.first?["targetPort"]?.text)
        #expect(ports.contains { $0["name"]?.text == target || $0["containerPort"]?.text == target }, "targetPort \(target)")
    }

    @Test("KEDA scales transform and the writers on their own consumer group and topic, at most to the partitions")
    func kedaScaledObjects() throws {
        let overlay = try Kustomization.load("deploy/overlays/keda")
        let defaults = ServiceConfigurationLoader(values: [:]).reader
        let expected: [String: (group: String, topic: String)] = [
            "transform": (TransformConfiguration(connections: []).consumerGroup, Topic.billingEvents),
            "crm-writer": (WriterSettings(config: defaults, prefix: "crm", serviceName: "crm-writer").consumerGroup, TargetSystem.salesforce.commandTopic),
            "erp-writer": (WriterSettings(config: defaults, prefix: "erp", serviceName: "erp-writer").consumerGroup, TargetSystem.netsuite.commandTopic),
        ]
        let environment = Kustomization.environmentFile(try Repository.text("deploy/base/environment.env"))
        let scaledObjects = overlay.manifests.filter { $0.kind == "ScaledObject" }
        #expect(scaledObjects.count == expected.count)
        for (service, consumer) in expected {
            let scaled = try #require(scaledObjects.first { $0.node["spec", "scaleTargetRef", "name"]?.text == "crossbill-\(service)" },
                                      "no ScaledObject for crossbill-\(service)")
            let targetKind = scaled.node["spec", "scaleTargetRef", "kind"]?.text ?? "Deployment"
            #expect(overlay.manifest(kind: targetKind, name: "crossbill-\(service)") != nil, "\(targetKind) crossbill-\(service) is not in the overlay")
            let minimum = scaled.node["spec", "minReplicaCount"]?.int ?? 0
            let maximum = try #require(scaled.node["spec", "maxReplicaCount"]?.int)
            #expect(minimum >= 1, "\(service): a writer's sweeper and a consumer's group need a running replica")
            #expect(maximum >= minimum && maximum <= TopicLayout.production.partitions, "\(service): maxReplicaCount \(maximum)")
            let trigger = try #require(scaled.node["spec", "triggers"]?.items.first)
            #expect(trigger["type"]?.text == "kafka")
            #expect(trigger["metadata", "consumerGroup"]?.text == consumer.group)
            #expect(trigger["metadata", "topic"]?.text == consumer.topic)
            #expect(trigger["metadata", "bootstrapServers"]?.text == environment["KAFKA_BOOTSTRAP_SERVERS"],
                    "\(service): bootstrapServers differs from KAFKA_BOOTSTRAP_SERVERS in environment.env")
            #expect((trigger["metadata", "lagThreshold"]?.text).flatMap(Int.init).map { $0 > 0 } == true)
            #expect(trigger["metadata", "offsetResetPolicy"]?.text == "earliest", "\(service): the consumers start at the earliest offset")
        }
    }

    @Test("kubectl kustomize builds the base and the overlay", .enabled(if: Command.isAvailable("kubectl"), "needs kubectl"),
          arguments: ["deploy/base", "deploy/overlays/keda"])
    func kustomizeBuilds(_ directory: String) throws {
        let result = try Command.run(["kubectl", "kustomize", directory], environment: Command.cleanEnvironment)
        #expect(result.succeeded, "\(result.standardError)")
        let documents = try YAML.documents(result.standardOutput, file: "kubectl kustomize \(directory)")
        let autoscaled = Set(documents.filter { ["ScaledObject", "HorizontalPodAutoscaler"].contains($0["kind"]?.text ?? "") }
            .compactMap { $0["spec", "scaleTargetRef", "name"]?.text })
        for document in documents where document["kind"]?.text == "StatefulSet" {
            let name = document["metadata", "name"]?.text ?? ""
            #expect((document["spec", "replicas"] == nil) == autoscaled.contains(name), "\(name): KEDA owns the replicas of scaled StatefulSets only")
            // What the cluster gets, patches applied.
            let component = document["spec", "template", "metadata", "labels", "app.kubernetes.io/component"]?.text ?? ""
            if CrossbillService.named(component)?.singleReplica == true {
                #expect(document["spec", "replicas"]?.int == 1, "\(name) must run exactly one replica in \(directory)")
                #expect(!autoscaled.contains(name), "\(name) must not be autoscaled in \(directory)")
            }
        }
    }

    // MARK: - Checks

    /// What is wrong with one workload, if anything.
    static func problems(of workload: Manifest, in kustomization: Kustomization) -> [String] {
        var problems: [String] = []
        let spec = workload.node["spec"]
        guard let podSpec = spec?["template", "spec"] else { return ["no pod template"] }

        let grace = podSpec["terminationGracePeriodSeconds"]?.int
        if grace == nil { problems.append("no terminationGracePeriodSeconds") }
        if let grace, let service = Self.service(of: workload), Double(grace) < GracePeriod.minimum(for: service) {
            problems.append("terminationGracePeriodSeconds \(grace) is shorter than the shutdown (\(GracePeriod.minimum(for: service)) s)")
        }

        let labels = stringMap(spec?["template", "metadata", "labels"])
        let selector = stringMap(spec?["selector", "matchLabels"])
        if selector.isEmpty || !selector.allSatisfy({ labels[$0.key] == $0.value }) { problems.append("selector does not match the pod labels") }

        let annotations = stringMap(spec?["template", "metadata", "annotations"])
        let containers = podSpec["containers"]?.items ?? []
        if containers.isEmpty { problems.append("no containers") }
        for container in containers {
            let name = container["name"]?.text ?? "?"
            let ports = container["ports"]?.items ?? []
            func portExists(_ port: Node?) -> Bool {
                guard let port = port?.text else { return false }
                return ports.contains { $0["name"]?.text == port || $0["containerPort"]?.text == port }
            }
            for (probe, path) in [("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")] {
                guard let get = container[probe, "httpGet"] else {
                    problems.append("\(name): no \(probe) (HTTP GET \(path))")
                    continue
                }
                if get["path"]?.text != path { problems.append("\(name): \(probe) asks \(get["path"]?.text ?? "nothing"), not \(path)") }
                if !portExists(get["port"]) { problems.append("\(name): \(probe) port is not a container port") }
            }
            let environment = Self.environment(of: container)
            if let port = environment["HTTP_PORT"], !ports.contains(where: { $0["containerPort"]?.text == port }) {
                problems.append("\(name): HTTP_PORT \(port) is not a container port")
            }
            if environment["HTTP_HOST"] != "0.0.0.0" { problems.append("\(name): HTTP_HOST must be 0.0.0.0 to be reachable") }

            for section in ["requests", "limits"] {
                if container["resources", section, "memory"]?.text == nil { problems.append("\(name): no memory \(section)") }
            }
            if container["resources", "requests", "cpu"]?.text == nil { problems.append("\(name): no cpu request") }
            if let request = container["resources", "requests", "memory"]?.text.flatMap(Quantity.bytes),
               let limit = container["resources", "limits", "memory"]?.text.flatMap(Quantity.bytes) {
                // The design's targets: under 64 MB idle, under 200 MB under load.
                if request < 64 * 1_000_000 || request > limit { problems.append("\(name): memory request \(request) outside 64 MB…limit") }
                if limit < 200 * 1_000_000 { problems.append("\(name): memory limit below the 200 MB the design allows under load") }
            }

            if annotations["prometheus.io/scrape"] != "true" { problems.append("no prometheus.io/scrape annotation") }
            if let port = annotations["prometheus.io/port"], !ports.contains(where: { $0["containerPort"]?.text == port }) {
                problems.append("prometheus.io/port \(port) is not a container port")
            }

            // The SQLite file must be on a persistent volume of this replica's own.
            for (key, path) in environment where key.hasSuffix("_DATABASE_PATH") {
                let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
                let mount = container["volumeMounts"]?.items.first {
                    guard let target = $0["mountPath"]?.text else { return false }
                    return directory == target || directory.hasPrefix(target + "/")
                }
                let volume = mount?["name"]?.text
                let claims = spec?["volumeClaimTemplates"]?.items.compactMap { $0["metadata", "name"]?.text } ?? []
                if volume == nil {
                    problems.append("\(name): \(key) \(path) is not on a volume")
                } else if !claims.contains(volume!) {
                    problems.append("\(name): \(key) is on volume \(volume!), not on a volumeClaimTemplate of this StatefulSet")
                }
            }
        }

        let budgets = kustomization.manifests.filter { $0.kind == "PodDisruptionBudget" }
        let covered = budgets.contains { budget in
            let match = stringMap(budget.node["spec", "selector", "matchLabels"])
            return !match.isEmpty && match.allSatisfy { labels[$0.key] == $0.value }
        }
        if !covered { problems.append("no PodDisruptionBudget selects its pods") }
        return problems
    }

    /// References to ConfigMaps and Secrets (envFrom, env valueFrom, volumes) that do not resolve.
    static func referenceProblems(of workload: Manifest, in kustomization: Kustomization) -> [String] {
        var problems: [String] = []
        guard let podSpec = workload.node["spec", "template", "spec"] else { return ["no pod template"] }
        func check(_ kind: String, _ name: String?, key: String? = nil, optional: Bool = false) {
            guard let name else { return problems.append("a \(kind) reference without a name") }
            let keys = kind == "ConfigMap" ? kustomization.configMapKeys[name] : kustomization.secretKeys[name]
            guard let keys else {
                if !optional { problems.append("\(kind) \(name) does not exist") }
                return
            }
            if let key, !keys.contains(key), !optional { problems.append("\(kind) \(name) has no key \(key)") }
        }
        let containers = (podSpec["initContainers"]?.items ?? []) + (podSpec["containers"]?.items ?? [])
        for container in containers {
            for source in container["envFrom"]?.items ?? [] {
                if let reference = source["configMapRef"] {
                    check("ConfigMap", reference["name"]?.text, optional: reference["optional"]?.bool == true)
                }
                if let reference = source["secretRef"] {
                    check("Secret", reference["name"]?.text, optional: reference["optional"]?.bool == true)
                }
            }
            for variable in container["env"]?.items ?? [] {
                if let reference = variable["valueFrom", "configMapKeyRef"] {
                    check("ConfigMap", reference["name"]?.text, key: reference["key"]?.text, optional: reference["optional"]?.bool == true)
                }
                if let reference = variable["valueFrom", "secretKeyRef"] {
                    check("Secret", reference["name"]?.text, key: reference["key"]?.text, optional: reference["optional"]?.bool == true)
                }
            }
        }
        for volume in podSpec["volumes"]?.items ?? [] {
            var sources: [(kind: String, node: Node)] = []
            if let node = volume["configMap"] { sources.append(("ConfigMap", node)) }
            if let node = volume["secret"] { sources.append(("Secret", node)) }
            for projected in volume["projected", "sources"]?.items ?? [] {
                if let node = projected["configMap"] { sources.append(("ConfigMap", node)) }
                if let node = projected["secret"] { sources.append(("Secret", node)) }
            }
            for (kind, node) in sources {
                let name = node[kind == "ConfigMap" ? "name" : "secretName"]?.text ?? node["name"]?.text
                let optional = node["optional"]?.bool == true
                check(kind, name, optional: optional)
                for item in node["items"]?.items ?? [] { check(kind, name, key: item["key"]?.text, optional: optional) }
            }
        }
        return problems
    }

    /// The ConfigMap key a file path in the container comes from, when a ConfigMap volume is mounted on
    /// its directory.
    static func configMapKey(mountedAt path: String, podSpec: Node, container: Node, in kustomization: Kustomization) -> String? {
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        let file = URL(fileURLWithPath: path).lastPathComponent
        guard let mount = container["volumeMounts"]?.items.first(where: { $0["mountPath"]?.text == directory }),
              let volume = podSpec["volumes"]?.items.first(where: { $0["name"]?.text == mount["name"]?.text }),
              let name = volume["configMap", "name"]?.text,
              let keys = kustomization.configMapKeys[name], keys.contains(file) else { return nil }
        return file
    }

    static func environment(of container: Node) -> [String: String] {
        var values: [String: String] = [:]
        for variable in container["env"]?.items ?? [] {
            if let name = variable["name"]?.text, let value = variable["value"]?.text { values[name] = value }
        }
        return values
    }

    static func stringMap(_ node: Node?) -> [String: String] {
        Dictionary((node?.entries ?? []).compactMap { entry in entry.value.text.map { (entry.key, $0) } }) { first, _ in first }
    }

    static func service(of workload: Manifest) -> CrossbillService? {
        workload.node["spec", "template", "metadata", "labels", "app.kubernetes.io/component"]?.text.flatMap(CrossbillService.named)
    }
}
