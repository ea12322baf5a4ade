import Contract
import Foundation
import GRDB
import Kafka
import TestSupport
import Testing

@testable import Transform

/// The organization and customer of the Lago fixtures.
let fixtureKey = "b7ab2926-1de8-4428-9bcd-779314ac129b/cust_acme_001"
let fixtureCustomerID = "99a6094e-199b-4101-896a-54e927ce7bd7"
let fixtureInvoiceID = "1e2d3c4b-5a69-4788-97a6-b5c4d3e2f1a0"

/// A billing event message as ingest produces it.
func billingMessage(
    _ value: [UInt8], id: String, type: String, key: String = fixtureKey, offset: Int64 = 0, headers: [KafkaHeader] = []
) -> KafkaMessage {
    KafkaMessage(
        topic: "billing.events", partition: 0, offset: offset, key: Array(key.utf8), value: value,
        headers: [KafkaHeader(name: MessageHeader.id, value: id), KafkaHeader(name: MessageHeader.type, value: type)] + headers)
}

/// A fixture webhook with values replaced at dotted paths (`customer.external_salesforce_id`).
func lagoEvent(_ name: String, setting changes: [(String, JSONValue)] = []) throws -> [UInt8] {
    var document = try #require(JSONValue.parse(try Fixtures.lago(name)))
    for (path, value) in changes {
        document = document.setting(value, at: path)
    }
    return Array(document.encoded())
}

/// A mapping file written to a temporary directory; the path is returned.
func writeMappingFile(_ text: String) throws -> String {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("transform-tests-\(UUID().uuidString).json")
    try Data(text.utf8).write(to: url)
    return url.path
}

func connection(_ system: TargetSystem, override text: String? = nil, name: String? = nil) throws -> MappedConnection {
    let path = try text.map(writeMappingFile)
    defer { if let path { try? FileManager.default.removeItem(atPath: path) } }
    return MappedConnection(
        name: name ?? system.rawValue, system: system, organizations: [],
        mappings: try MappingLoader.load(system: system, overridePath: path))
}

/// An engine with an in-memory state; `run` plans one message and stores its changes, as the
/// service does once a batch is acknowledged.
struct Harness {
    let engine: TransformEngine
    let state: TransformState

    init(_ connections: [MappedConnection]) throws {
        engine = TransformEngine(connections: connections)
        state = try TransformState(database: try DatabaseQueue())
    }

    @discardableResult
    func run(_ message: KafkaMessage, store: Bool = true) async throws -> [TransformOutput] {
        let engine = engine
        let (outputs, changes) = try await state.plan { view in try engine.transform(message, state: &view) }
        if store { try await state.apply(changes) }
        return outputs
    }
}

extension [TransformOutput] {
    var commands: [SyncCommand] {
        compactMap { if case .command(let command) = $0 { command } else { nil } }
    }

    var results: [SyncResult] {
        compactMap { if case .result(let result) = $0 { result } else { nil } }
    }

    /// Failed results of events that broke the topic contract (they also go to the dead-letter queue).
    var rejections: [SyncResult] {
        compactMap { if case .rejected(let result) = $0 { result } else { nil } }
    }
}
