import Contract
import Foundation
import Testing

/// `JSONValueCoding` is checked against Foundation's coders, the reference it replaces.
@Suite("JSONValueCoding: the values and errors of Foundation's JSON coders")
struct JSONValueCodingTests {
    static let command = SyncCommand(
        id: "cmd-1", connection: "sf", system: .salesforce, object: "Billing_Invoice__c", externalIDField: "Billing_Id__c",
        externalID: "inv_1", recordID: nil,
        fields: [
            "Name": "INV \"001\" / é", "Total_Amount__c": .number(Decimal(string: "1234.5678")!), "Paid__c": false, "Note__c": .null,
            "Lines__c": [["qty": 3, "rate": .number(Decimal(string: "-0.0001")!)], []],
        ],
        references: [
            RecordReference(path: "Account__r", object: "Account", externalIDField: "Billing_Id__c", externalID: "cus_1"),
            RecordReference(path: "Pricebook2Id", object: "Pricebook2", match: ["IsStandard": true], createOnly: true),
        ],
        replaceSublists: ["item"],
        source: SourceDocument(eventID: "evt", eventType: "invoice.created", billingObject: "invoice", billingID: "inv_1", documentNumber: "N-1"))

    static let result = SyncResult(
        outcome: .failed, commandID: "cmd-1", connection: "ns", system: .netsuite, object: "invoice", source: command.source, attempts: 3,
        reason: "USER_ERROR", error: ProviderError(code: "USER_ERROR", message: "bad", fields: ["entity"], path: "entity", httpStatus: 400),
        reporter: "erp-writer", apiUsage: APIUsage(used: 12, allocation: 100_000))

    private struct Scalars: Codable, Equatable {
        var integer: Int
        var large: Int64
        var double: Double
        var decimal: Decimal
        var optional: String?
        var list: [Int]
        var map: [String: Bool]
    }

    private func foundationJSON(_ value: some Encodable) throws -> JSONValue {
        try #require(JSONValue.parse(try JSONEncoder().encode(value)))
    }

    @Test("encoding gives the JSON Foundation's encoder gives")
    func encoding() throws {
        #expect(try JSONValueCoding.encode(Self.command) == foundationJSON(Self.command))
        #expect(try JSONValueCoding.encode(Self.result) == foundationJSON(Self.result))
        let scalars = Scalars(integer: -42, large: 9_007_199_254_740_993, double: 0.1, decimal: Decimal(string: "19.99")!, optional: nil, list: [1, 2], map: ["a": true])
        #expect(try JSONValueCoding.encode(scalars) == foundationJSON(scalars))
        #expect(throws: EncodingError.self) { try JSONValueCoding.encode(Scalars(integer: 0, large: 0, double: .infinity, decimal: 0, optional: nil, list: [], map: [:])) }
    }

    @Test("decoding what Foundation's encoder wrote gives the value back")
    func decoding() throws {
        #expect(try JSONValueCoding.decode(SyncCommand.self, from: Array(JSONEncoder().encode(Self.command))) == Self.command)
        #expect(try JSONValueCoding.decode(SyncResult.self, from: Array(JSONEncoder().encode(Self.result))) == Self.result)
        let scalars = Scalars(integer: 7, large: -9_007_199_254_740_993, double: 2.5, decimal: Decimal(string: "0.3")!, optional: "x", list: [], map: [:])
        #expect(try JSONValueCoding.decode(Scalars.self, from: Array(JSONEncoder().encode(scalars))) == scalars)
    }

    /// The kind of a decoding error and the path it names, which is what `MessageContract` reports.
    private func failure(_ decode: () throws -> Any) -> String? {
        do {
            _ = try decode()
            return nil
        } catch let error as DecodingError {
            func path(_ keys: [any CodingKey]) -> String { keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".") }
            return switch error {
            case .keyNotFound(let key, let context): "keyNotFound \(path(context.codingPath + [key]))"
            case .typeMismatch(_, let context): "typeMismatch \(path(context.codingPath))"
            case .valueNotFound(_, let context): "valueNotFound \(path(context.codingPath))"
            case .dataCorrupted(let context): "dataCorrupted \(path(context.codingPath))"
            @unknown default: "\(error)"
            }
        } catch {
            return "\(error)"
        }
    }

    @Test(
        "a malformed command fails the same way, naming the same field",
        arguments: [
            #"{"connection":"sf"}"#,
            #"[]"#,
            #"{"id":1}"#,
            #"{"id":"c","connection":"sf","system":"hubspot"}"#,
            #"{"id":"c","connection":"sf","system":"salesforce","object":"A","external_id":"x","fields":[],"source":{}}"#,
            #"{"id":"c","connection":"sf","system":"salesforce","object":"A","external_id":null,"fields":{},"source":{}}"#,
            #"{"id":"c","connection":"sf","system":"salesforce","object":"A","external_id":"x","fields":{},"source":{"event_id":"e"}}"#,
            #"{"id":"c","connection":"sf","system":"salesforce","object":"A","external_id":"x","fields":{},"references":[{"path":"p","object":"o"},{"path":"p"}],"source":{}}"#,
            #"{"id":"c","connection":"sf","system":"salesforce","object":"A","external_id":"x","fields":{},"references":[{"path":"p","object":"o","create_only":"yes"}],"source":{}}"#,
        ])
    func malformed(text: String) {
        let bytes = Array(text.utf8)
        let ours = failure { try JSONValueCoding.decode(SyncCommand.self, from: bytes) }
        #expect(ours != nil)
        #expect(ours == failure { try JSONDecoder().decode(SyncCommand.self, from: Data(bytes)) })
    }

    @Test("integers that do not fit, and text that is not JSON, are refused")
    func refused() {
        #expect(failure { try JSONValueCoding.decode(APIUsage.self, from: Array(#"{"used":1.5,"allocation":1}"#.utf8)) } == "dataCorrupted used")
        #expect(failure { try JSONValueCoding.decode(APIUsage.self, from: Array(#"{"used":1e30,"allocation":1}"#.utf8)) } == "dataCorrupted used")
        #expect(failure { try JSONValueCoding.decode(APIUsage.self, from: Array("{".utf8)) } == "dataCorrupted ")
    }
}
