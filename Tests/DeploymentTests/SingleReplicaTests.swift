import Foundation
import Testing
import Yams

/// Services that must run exactly one replica (the notifier): its store is the whole sync history the
/// dashboard shows, the state that coalesces identical failures and the webhook outbox. A second
/// replica would take part of sync.results' partitions into a store of its own: the dashboard would show
/// part of the history and alerts would not coalesce. Nothing in the deployment files may give it more.
struct SingleReplicaTests {
    /// Every kustomization under deploy/ (the base and each overlay).
    static var kustomizations: [String] {
        Repository.files(under: "deploy", endingWith: ["kustomization.yaml"])
            .filter { URL(fileURLWithPath: $0).lastPathComponent == "kustomization.yaml" }
            .map { String($0.dropLast("/kustomization.yaml".count)) }
    }

    @Test("compose runs one replica, on a path of its own rather than a state slot", .enabled(if: Compose.isAvailable),
          arguments: CrossbillService.singleReplicaServices)
    func compose(_ expected: CrossbillService) throws {
        for profile in [nil, "sandbox"] as [String?] {
            let config = try Compose.config(profile: profile)
            let service = try #require(config["services", expected.name], "no service \(expected.name)")
            let replicas = service["deploy", "replicas"]?.int ?? 1
            #expect(replicas == 1, "deploy.replicas \(replicas): \(expected.name) must run exactly one replica")
            #expect((service["scale"]?.int ?? 1) == 1, "scale \(service["scale"]?.int ?? 1): \(expected.name) must run exactly one replica")
            #expect(service["deploy", "mode"]?.text != "global", "deploy.mode global runs a replica per node")
            #expect(Compose.command(of: service).first != "state-slot", "state-slot is for services with several replicas")
        }
    }

    @Test("every kustomization runs it as a one-replica StatefulSet, with no autoscaler and no patch to its replicas",
          arguments: CrossbillService.singleReplicaServices)
    func kubernetes(_ expected: CrossbillService) throws {
        let directories = Self.kustomizations
        #expect(directories.contains("deploy/base") && directories.contains("deploy/overlays/keda"), "kustomizations: \(directories)")
        let name = "crossbill-\(expected.name)"
        for directory in directories {
            let kustomization = try Kustomization.load(directory)
            // A StatefulSet replaces its pod (old one gone, then the new one); a Deployment's rolling
            // update starts the new pod first, and two would run at once.
            let workloads = kustomization.workloads.filter {
                $0.node["spec", "template", "metadata", "labels", "app.kubernetes.io/component"]?.text == expected.name
            }
            #expect(workloads.map(\.kind) == ["StatefulSet"], "\(directory): \(expected.name) runs as \(workloads)")
            let workload = try #require(kustomization.manifest(kind: "StatefulSet", name: name), "\(directory): no StatefulSet \(name)")
            #expect(workload.node["spec", "replicas"]?.int == 1, "\(directory): \(name) replicas must be 1")

            // No autoscaler: a KEDA ScaledObject or an HPA would add replicas under load.
            for scaler in kustomization.manifests where ["ScaledObject", "HorizontalPodAutoscaler"].contains(scaler.kind) {
                #expect(scaler.node["spec", "scaleTargetRef", "name"]?.text != name, "\(directory): \(scaler) scales \(name)")
            }
            // No kustomization on the way changes its replicas.
            if let count = kustomization.replicaCounts[name] {
                #expect(count == 1, "\(directory): the replicas field gives \(name) \(count) replicas")
            }
            for patch in kustomization.patches where patch.mayApply(toKind: "StatefulSet", name: name) {
                #expect(!patch.text.contains("replicas"), "\(patch.directory): a patch changes the replicas of \(name): \(patch.text)")
            }

            // Its disruption budget must let a node drain evict the one pod: with a single replica,
            // minAvailable 1 or maxUnavailable 0 would block every drain.
            let labels = KubernetesTests.stringMap(workload.node["spec", "template", "metadata", "labels"])
            let budgets = kustomization.manifests.filter { budget in
                guard budget.kind == "PodDisruptionBudget" else { return false }
                let match = KubernetesTests.stringMap(budget.node["spec", "selector", "matchLabels"])
                return !match.isEmpty && match.allSatisfy { labels[$0.key] == $0.value }
            }
            #expect(!budgets.isEmpty, "\(directory): no PodDisruptionBudget selects \(name)")
            for budget in budgets {
                let maxUnavailable = budget.node["spec", "maxUnavailable"]?.text
                let minAvailable = budget.node["spec", "minAvailable"]?.text
                let allowsOne = maxUnavailable.map { $0 != "0" && $0 != "0%" } ?? (minAvailable == "0" || minAvailable == "0%")
                #expect(allowsOne, "\(budget): maxUnavailable \(maxUnavailable ?? "-"), minAvailable \(minAvailable ?? "-") blocks evicting the only pod")
            }
        }
    }
}
