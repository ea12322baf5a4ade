import Contract
import CurlHTTP
import Foundation
import HTTPTypes
import Kafka
import TestSupport
import Testing

/// dev-broker, sandbox, ingest, transform, crm-writer and erp-writer as real processes, with one
/// organization (`acme`) and one Salesforce and one NetSuite connection against the sandbox.
struct SyncStack {
    static let hmacKey = "e2e-sync-hmac-key"
    static let organization = "b7ab2926-1de8-4428-9bcd-779314ac129b"

    let processes: [ServiceProcess]
    /// The services' state, removed after they stop; a test may keep files of its own here.
    let directory: URL
    let bootstrapServers: String
    let ingestURL: String
    let salesforceURL: String
    let netsuiteURL: String
    let http: CurlHTTPClient

    func post(_ body: [UInt8], uniqueKey: String) async throws -> HTTPClientResponse {
        try await http.execute(HTTPClientRequest(
            method: .post, url: "\(ingestURL)/webhooks/lago/acme",
            headers: [
                .contentType: "application/json",
                HTTPField.Name("X-Lago-Signature")!: LagoSigning.hmac(body, key: SyncStack.hmacKey),
                HTTPField.Name("X-Lago-Signature-Algorithm")!: "hmac",
                HTTPField.Name("X-Lago-Unique-Key")!: uniqueKey,
            ],
            body: body))
    }

    func records(_ system: String, _ type: String) async throws -> [JSONValue] {
        let base = system == "salesforce" ? salesforceURL : netsuiteURL
        let response = try await http.execute(HTTPClientRequest(url: "\(base)/_sandbox/records/\(type)"))
        guard response.status == .ok else { return [] }
        return JSONValue.parse(Data(response.body))?.arrayValue ?? []
    }

    /// Waits until `type` holds `count` records (or the time is up) and returns them.
    func waitForRecords(_ system: String, _ type: String, count: Int, timeout: Duration = .seconds(60)) async throws -> [JSONValue] {
        let deadline = ContinuousClock.now + timeout
        var found: [JSONValue] = []
        while ContinuousClock.now < deadline {
            found = try await records(system, type)
            if found.count >= count { return found }
            try await Task.sleep(for: .milliseconds(200))
        }
        return found
    }

    /// Everything Crossbill wrote to both systems, without what the systems assign themselves (ids,
    /// timestamps, generated numbers) and with lookups shown as the target's billing id: two runs
    /// that reached the same state have equal snapshots.
    func snapshot() async throws -> [String: [String]] {
        var raw: [String: [JSONValue]] = [:]
        for type in SyncEndToEndTests.salesforceTypes { raw["salesforce/\(type)"] = try await records("salesforce", type) }
        for type in SyncEndToEndTests.netsuiteTypes { raw["netsuite/\(type)"] = try await records("netsuite", type) }
        var labels: [String: JSONValue] = [:]
        for (key, list) in raw where key.hasPrefix("salesforce/") {
            for record in list {
                if let id = record["Id"]?.stringValue { labels[id] = .string("\(key.dropFirst(11)):\(record["Billing_Id__c"]?.stringValue ?? "?")") }
            }
        }
        func normalized(_ value: JSONValue, ownID: String?) -> JSONValue {
            switch value {
            case .string(let text): return labels[text] ?? value
            case .array(let items): return .array(items.map { normalized($0, ownID: nil) })
            case .object(var members):
                for key in ["Id", "CreatedDate", "LastModifiedDate", "SystemModstamp", "attributes", "links", "createdDate", "lastModifiedDate"] {
                    members[key] = nil
                }
                // A NetSuite reference keeps its display name; internal ids depend on creation order.
                if members["refName"] != nil { members["id"] = nil }
                if let ownID, let number = members["tranId"]?.stringValue, number.hasSuffix(ownID) { members["tranId"] = nil }
                if ownID != nil { members["id"] = nil }
                return .object(members.mapValues { normalized($0, ownID: nil) })
            default: return value
            }
        }
        return raw.mapValues { list in
            list.map { String(decoding: normalized($0, ownID: $0["id"]?.stringValue ?? "").encoded(), as: UTF8.self) }.sorted()
        }
    }

    /// Replaces the fault settings of one system (`PUT /_sandbox/faults`).
    func setFaults(_ system: String, _ faults: String) async throws {
        let base = system == "salesforce" ? salesforceURL : netsuiteURL
        let response = try await http.execute(HTTPClientRequest(
            method: .put, url: "\(base)/_sandbox/faults", headers: [.contentType: "application/json"], body: Array(faults.utf8)))
        #expect(response.status == .ok || response.status == .noContent, "\(system) faults: \(response.bodyText)")
    }

    func statistics(_ system: String) async throws -> JSONValue {
        let base = system == "salesforce" ? salesforceURL : netsuiteURL
        let response = try await http.execute(HTTPClientRequest(url: "\(base)/_sandbox/stats"))
        return JSONValue.parse(Data(response.body)) ?? .null
    }

    /// Waits until the snapshot equals `expected` (or the time is up) and returns the last one.
    func waitForSnapshot(_ expected: [String: [String]], timeout: Duration = .seconds(60)) async throws -> [String: [String]] {
        let deadline = ContinuousClock.now + timeout
        var current = try await snapshot()
        while current != expected, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(500))
            current = try await snapshot()
        }
        return current
    }

    func stop() async throws {
        for process in processes.reversed() { try await process.terminate() }
        http.shutdown()
    }

    /// The base URL a service printed it listens on.
    static func listeningURL(_ process: ServiceProcess) async throws -> String {
        let line = try await process.waitForLine(containing: "listening on")
        let address = try #require(line.range(of: "listening on 127.0.0.1:"))
        let port = try #require(Int(line[address.upperBound...].prefix { $0.isNumber }))
        return "http://127.0.0.1:\(port)"
    }

    static func start(in directory: URL, writerSettings: [String: String] = [:]) async throws -> SyncStack {
        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

        let broker = try ServiceProcess("dev-broker", arguments: ["--control-port", "0", "--partitions", "3"])
        let bootstrap = String(try await broker.waitForLine(containing: "bootstrap ").dropFirst("bootstrap ".count))
        let sandbox = try ServiceProcess("sandbox", arguments: [
            "--salesforce-port", "0", "--netsuite-port", "0", "--ports-file", path("ports.json"), "--log-level", "warning",
        ])
        let salesforce = String(try await sandbox.waitForLine(containing: "salesforce http").split(separator: " ")[1])
        let netsuite = String(try await sandbox.waitForLine(containing: "netsuite http").split(separator: " ")[1])

        // NetSuite item ids of the sandbox account: one-to-one for the api_calls metric, defaults per kind.
        try """
        {"system": "netsuite", "items": {"billableMetrics": {"api_calls": "2"},
          "defaults": {"subscription_fee": "1", "minimum_commitment": "1", "coupon": "5", "prepaid_credit": "5", "credit_note": "5", "tax": "4"}}}
        """.write(toFile: path("netsuite-mapping.json"), atomically: true, encoding: .utf8)

        let common = ["KAFKA_BOOTSTRAP_SERVERS": bootstrap, "KAFKA_FETCH_WAIT_MAX_MS": "10", "KAFKA_MAX_IN_FLIGHT": "1", "HTTP_PORT": "0", "LOG_FORMAT": "json", "LOG_LEVEL": "info"]
        let ingest = try ServiceProcess("ingest", environment: common.merging([
            "INGEST_ORGANIZATIONS": "acme",
            "INGEST_ORGANIZATION_ACME_ID": Self.organization,
            "INGEST_ORGANIZATION_ACME_HMAC_KEY": Self.hmacKey,
            "INGEST_DATABASE_PATH": path("ingest.sqlite"),
        ]) { _, new in new })
        let transform = try ServiceProcess("transform", environment: common.merging([
            "TRANSFORM_CONNECTIONS": "sf,ns",
            "TRANSFORM_CONNECTION_SF_SYSTEM": "salesforce",
            "TRANSFORM_CONNECTION_NS_SYSTEM": "netsuite",
            "TRANSFORM_CONNECTION_NS_MAPPING_FILE": path("netsuite-mapping.json"),
            "TRANSFORM_DATABASE_PATH": path("transform.sqlite"),
        ]) { _, new in new })
        let crmWriter = try ServiceProcess("crm-writer", environment: common.merging([
            "CRM_CONNECTIONS": "sf",
            "CRM_CONNECTION_SF_LOGIN_URL": salesforce,
            "CRM_CONNECTION_SF_CLIENT_ID": "crossbill-sandbox-client",
            "CRM_CONNECTION_SF_CLIENT_SECRET": "crossbill-sandbox-secret",
            "CRM_DATABASE_PATH": path("crm.sqlite"),
            "CRM_RETRY_INITIAL_MS": "50",
        ]) { _, new in new }.merging(writerSettings) { _, new in new })
        let erpWriter = try ServiceProcess("erp-writer", environment: common.merging([
            "ERP_CONNECTIONS": "ns",
            "ERP_CONNECTION_NS_ACCOUNT_ID": "TSTDRV1234567",
            "ERP_CONNECTION_NS_BASE_URL": netsuite,
            "ERP_CONNECTION_NS_CONSUMER_KEY": "crossbill-sandbox-consumer-key",
            "ERP_CONNECTION_NS_CONSUMER_SECRET": "crossbill-sandbox-consumer-secret",
            "ERP_CONNECTION_NS_TOKEN_ID": "crossbill-sandbox-token-id",
            "ERP_CONNECTION_NS_TOKEN_SECRET": "crossbill-sandbox-token-secret",
            "ERP_CONNECTION_NS_CONCURRENCY_LIMIT": "3",
            "ERP_DATABASE_PATH": path("erp.sqlite"),
            "ERP_RETRY_INITIAL_MS": "50",
        ]) { _, new in new }.merging(writerSettings) { _, new in new })
        let ingestURL = try await listeningURL(ingest)
        for service in [transform, crmWriter, erpWriter] { _ = try await listeningURL(service) }
        return SyncStack(
            processes: [broker, sandbox, ingest, transform, crmWriter, erpWriter], directory: directory, bootstrapServers: bootstrap,
            ingestURL: ingestURL, salesforceURL: salesforce, netsuiteURL: netsuite,
            http: CurlHTTPClient(configuration: .init(requestTimeout: .seconds(10)), logger: quietLogger))
    }
}

/// Runs `body` against a fresh stack and stops every process afterwards, also when `body` throws;
/// then removes the stack's directory.
func withSyncStack(writerSettings: [String: String] = [:], _ body: (SyncStack) async throws -> Void) async throws {
    try await withTemporaryDirectory(prefix: "e2e-sync") { directory in
        let stack = try await SyncStack.start(in: directory, writerSettings: writerSettings)
        do {
            try await body(stack)
        } catch {
            try? await stack.stop()
            throw error
        }
        try await stack.stop()
    }
}
