import Contract
import Foundation
import TestSupport
import Testing

@Suite("JSONValue: parsing and writing JSON")
struct JSONValueTests {
    /// The reference: Foundation's decoder through `Codable`.
    private func reference(_ text: String) -> JSONValue? {
        try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
    }

    @Test("every Lago fixture reads the same as through Foundation's decoder", arguments: Fixtures.lagoWebhookNames)
    func fixtures(name: String) throws {
        let bytes = try Fixtures.lago(name)
        let parsed = try #require(JSONValue.parse(bytes))
        #expect(parsed == reference(String(decoding: bytes, as: UTF8.self)))
        // Writing and reading again gives the same value.
        #expect(JSONValue.parse(parsed.encoded()) == parsed)
    }

    @Test(
        "valid documents read the same as through Foundation's decoder",
        arguments: [
            #"{"a":[1,2.5,-0.1,1e2,1E-2,0],"b":{"c":null,"d":true,"e":false},"f":""}"#,
            #"  [ 1 , "x" ]  "#,
            #""\u00e9\ud83d\ude00\n\t\"\\\/""#,
            "12345678901234567890.123456789",
        ])
    func valid(text: String) throws {
        let parsed = try #require(JSONValue.parse(Data(text.utf8)))
        #expect(parsed == reference(text))
    }

    @Test(
        "malformed documents are refused",
        arguments: [
            "", " ", "{", "[1,]", #"{"a":1,}"#, #"{"a" 1}"#, "{a:1}", "01", "1.", ".5", "-", "1e", "+1", "tru", "nul",
            #""unterminated"#, #""bad \x escape""#, #""\ud83d alone""#, #""\ude00""#, "\"tab\there\"", "[1] 2", "NaN", "Infinity",
        ])
    func malformed(text: String) {
        #expect(JSONValue.parse(Data(text.utf8)) == nil)
    }

    @Test("keepingMembers builds only the members it accepts")
    func keepingMembers() throws {
        let text = #"{"a":{"b":[1,{"c":2}],"c":"x\n","d":{"c":true}},"e":"y"}"#
        let parsed = JSONValue.parse(Data(text.utf8)) { depth, key in depth == 1 || key == "c" }
        #expect(parsed == ["a": ["c": "x\n"], "e": "y"])
    }

    @Test(
        "a malformed value is refused even in a member that is not built",
        arguments: [
            "[1,]", "01", "1.", ".5", "-", "1e", "+1", "tru", "nul", #"{"a" 1}"#, #""unterminated"#, #""bad \x escape""#,
            #""\ud83d alone""#, #""\ude00""#, "\"tab\there\"", "NaN",
        ])
    func malformedWhereSkipped(value: String) {
        #expect(JSONValue.parse(Data(#"{"kept":1,"skipped":\#(value)}"#.utf8)) { _, key in key == "kept" } == nil)
    }

    @Test("numbers keep their exact decimal value")
    func decimals() throws {
        #expect(JSONValue.parse(Data("0.1".utf8)) == .number(Decimal(string: "0.1")!))
        #expect(JSONValue.parse(Data("138.00".utf8)) == .number(138))
        #expect(JSONValue.parse(Data("-2.5e3".utf8)) == .number(-2500))
    }

    @Test("integers of up to 18 digits and beyond read the same as through Decimal(string:)")
    func integers() {
        for text in ["0", "-0", "7", "-42", "999999999999999999", "-999999999999999999", "1000000000000000000", "123456789012345678901234567890"] {
            #expect(JSONValue.parse(Data(text.utf8)) == .number(Decimal(string: text)!), "\(text)")
        }
    }

    @Test("numbers are written exactly as Decimal.description writes them, so equal values keep equal bytes")
    func numberText() {
        var numbers: [Decimal] = [0, -1, 1, Decimal(string: "12.50")!, Decimal(string: "0.000001")!, Decimal(string: "1e3")!,
                                  Decimal(string: "123456789012345678901234567890.5")!, Decimal(string: "-1.5e-30")!]
        // Significands of every length and sign (a multiplicative hash, shifted), exponents from -20 to 10.
        for step in UInt64(1)...20_000 {
            let significand = Int64(bitPattern: step &* 0x9E37_79B9_7F4A_7C15) >> Int64(step % 63)
            numbers.append(Decimal(sign: .plus, exponent: Int(step % 31) - 20, significand: Decimal(significand)))
        }
        for number in numbers {
            #expect(String(decoding: JSONValue.number(number).encoded(), as: UTF8.self) == number.description)
        }
    }

    @Test("a document nested deeper than the limit is refused, not a crash")
    func depth() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(JSONValue.parse(Data(deep.utf8)) == nil)
        let fine = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(JSONValue.parse(Data(fine.utf8)) != nil)
    }

    @Test("writing sorts keys and escapes what JSON requires")
    func writing() {
        let value: JSONValue = ["b": 1, "a": ["x\"y\\z\n\u{01}/é", true, .null]]
        #expect(String(decoding: value.encoded(), as: UTF8.self) == #"{"a":["x\"y\\z\n\u0001/é",true,null],"b":1}"#)
        #expect(JSONValue.parse(value.encoded()) == value)
    }
}

@Suite("MessageContract: checks before a message is used")
struct MessageContractTests {
    @Test("a decoding error names the offending field")
    func fieldNames() throws {
        func violation(_ text: String) -> ContractViolation? {
            do {
                _ = try MessageContract.decode(SyncCommand.self, value: Array(text.utf8), schemaHeader: MessageSchema.syncCommand.uri, expected: .syncCommand)
                return nil
            } catch {
                return error
            }
        }
        let valid = #"{"id":"c","connection":"sf","system":"salesforce","object":"Account","external_id":"x","fields":{},"source":{"event_id":"e","event_type":"t","billing_object":"customer","billing_id":"b"}"#
        #expect(violation(valid + "}") == nil)
        #expect(violation(valid.replacingOccurrences(of: #""fields":{}"#, with: #""fields":3"#) + "}")?.field == "fields")
        #expect(violation(valid.replacingOccurrences(of: #""external_id":"x","#, with: "") + "}")?.field == "external_id")
        #expect(violation(valid + #","references":[{"path":"A__r","object":7}]}"#)?.field == "references[0].object")
        #expect(violation(valid.replacingOccurrences(of: "salesforce", with: "hubspot") + "}")?.field == "system")
        #expect(violation("not json")?.code == .invalidJSON)
    }

    @Test("schema headers: a known version passes, another version or schema is refused")
    func versions() throws {
        try MessageContract.check(value: [], schemaHeader: nil, expected: .billingEvent, headerRequired: false)
        try MessageContract.check(value: [], schemaHeader: "urn:crossbill:schema:billing-event:1", expected: .billingEvent, headerRequired: true)
        for header in ["urn:crossbill:schema:billing-event:2", "urn:crossbill:schema:sync-command:1", "billing-event", ""] {
            #expect(throws: ContractViolation.self) {
                try MessageContract.check(value: [], schemaHeader: header, expected: .billingEvent, headerRequired: true)
            }
        }
        #expect(throws: ContractViolation.self) {
            try MessageContract.check(value: [], schemaHeader: nil, expected: .syncCommand, headerRequired: true)
        }
        #expect(throws: ContractViolation.self) {
            try MessageContract.check(
                value: [UInt8](repeating: 0, count: MessageContract.maximumValueBytes + 1), schemaHeader: nil, expected: .billingEvent,
                headerRequired: false)
        }
    }
}
