import Contract
import Foundation
import HTTPTypes
import NetSuiteSandbox
import SandboxCore
import TestSupport
import Testing

/// A NetSuite sandbox on a free loopback port, and a client that signs every request with TBA.
struct NetSuiteHarness: Sendable {
    static let records = "/services/rest/record/v1"

    let harness: SandboxHarness
    let signer: OAuth1Signer

    static func run(
        configure: (inout NetSuiteSettings) -> Void = { _ in },
        _ body: @escaping @Sendable (NetSuiteHarness) async throws -> Void
    ) async throws {
        var settings = NetSuiteSettings()
        configure(&settings)
        let environment = SandboxEnvironment(faults: FaultInjector(settings: settings.faults, seed: 11), concurrencyLimit: settings.concurrencyLimit)
        let system = try await NetSuiteSandbox.make(settings: settings, environment: environment)
        let signer = OAuth1Signer(try #require(settings.tokenCredentials.first), realm: settings.realm)
        try await SandboxHarness.run(system, environment: environment) { harness in
            try await body(NetSuiteHarness(harness: harness, signer: signer))
        }
    }

    /// Sends a request signed with TBA.
    func send(
        _ method: HTTPRequest.Method, _ path: String, json: JSONValue? = nil, raw: String? = nil, headers: HTTPFields = [:]
    ) async throws -> SandboxHarness.Reply {
        var headers = headers
        headers[.authorization] = signer.authorization(method: method.rawValue, url: harness.base + path)
        return try await harness.send(method, path, json: json, raw: raw, headers: headers)
    }

    /// Creates a record and returns its internal ID, read from `Location`.
    func create(_ type: String, _ body: JSONValue) async throws -> String {
        let reply = try await send(.post, "\(Self.records)/\(type)", json: body)
        try #require(reply.status == 204, "\(reply.text)")
        let location = try #require(reply.header("Location"))
        return String(location.split(separator: "/").last ?? "")
    }

    func get(_ path: String) async throws -> JSONValue {
        let reply = try await send(.get, Self.records + path)
        try #require(reply.status == 200, "\(reply.text)")
        return try #require(reply.json)
    }

    func stats() async throws -> JSONValue {
        try await harness.send(.get, "/_sandbox/stats").json ?? .null
    }

    func setFaults(_ faults: JSONValue) async throws {
        let reply = try await harness.send(.put, "/_sandbox/faults", json: faults)
        try #require(reply.status == 200, "\(reply.text)")
    }
}

/// The first `o:errorDetails` entry of an error reply.
struct NetSuiteErrorDetail: Equatable {
    let code: String?
    let detail: String?
    let path: String?
}

extension NetSuiteErrorDetail {
    init(_ reply: SandboxHarness.Reply) {
        let entry = reply.json?["o:errorDetails"]?.arrayValue?.first
        code = entry?["o:errorCode"]?.stringValue
        detail = entry?["detail"]?.stringValue
        path = entry?["o:errorPath"]?.stringValue
    }
}

func decimal(_ value: JSONValue?) -> Decimal? {
    if case .number(let number)? = value { return number }
    return nil
}

func urlQuery(_ text: String) -> String {
    text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? text
}

/// The record service, driven over raw HTTP with TBA as a client would.
@Suite("NetSuite sandbox records", .timeLimit(.minutes(2)))
struct NetSuiteSandboxTests {
    static let records = NetSuiteHarness.records

    static func customer(_ name: String, externalId: String? = nil) -> JSONValue {
        var body: [String: JSONValue] = ["companyName": .string(name), "subsidiary": ["id": "1"]]
        if let externalId { body["externalId"] = .string(externalId) }
        return .object(body)
    }

    /// An invoice of 100.00: 2 × 30 plus a 40 line.
    static func invoice(for customerId: String, externalId: String? = nil) -> JSONValue {
        let lines: JSONValue = [
            ["item": ["id": "1"], "quantity": 2, "rate": 30, "description": "Seats"],
            ["item": ["id": "2"], "amount": 40],
        ]
        var body: [String: JSONValue] = ["entity": ["id": .string(customerId)], "tranDate": "2025-01-31", "item": ["items": lines]]
        if let externalId { body["externalId"] = .string(externalId) }
        return .object(body)
    }

    static func payment(customerId: String, invoiceId: String, amount: Int, payment: Int? = nil) -> JSONValue {
        let line: JSONValue = ["doc": ["id": .string(invoiceId)], "apply": true, "amount": .number(Decimal(amount))]
        var body: [String: JSONValue] = ["customer": ["id": .string(customerId)], "apply": ["items": [line]]]
        if let payment { body["payment"] = .number(Decimal(payment)) }
        return .object(body)
    }

    // MARK: Create and read

    @Test func createAnswers204WithLocationAndGetRendersTheRecord() async throws {
        try await NetSuiteHarness.run { netsuite in
            let created = try await netsuite.send(.post, "\(Self.records)/customer", json: Self.customer("Acme Ltd", externalId: "C-1"))
            #expect(created.status == 204)
            #expect(created.text.isEmpty)
            let location = try #require(created.header("Location"))
            let id = String(location.split(separator: "/").last ?? "")
            #expect(location == "\(netsuite.harness.base)\(Self.records)/customer/\(id)")
            #expect(Int(id) != nil)

            let reply = try await netsuite.send(.get, "\(Self.records)/customer/\(id)")
            #expect(reply.status == 200)
            #expect(reply.header("Content-Type") == "application/vnd.oracle.resource+json; type=singular-resource")
            let record = try #require(reply.json)
            #expect(record["id"] == .string(id))
            #expect(record["companyName"] == "Acme Ltd")
            #expect(record["externalId"] == "C-1")
            #expect(record["entityId"] == .string("CUST\(id)"))
            #expect(record["isPerson"] == false)
            #expect(record["links"]?.arrayValue?.first?["href"] == .string(location))
            #expect(record["subsidiary"]?["id"] == "1")
            #expect(record["subsidiary"]?["refName"] == "Parent Company")
            #expect(record["currency"]?["refName"] == "US Dollar")
            #expect(record["emailPreference"]?["refName"] == "Default")
            #expect(record["createdDate"]?.stringValue != nil)

            let byExternalId = try await netsuite.get("/customer/eid:C-1")
            #expect(byExternalId["id"] == .string(id))
            let narrowed = try await netsuite.get("/customer/\(id)?fields=companyName")
            #expect(narrowed["companyName"] == "Acme Ltd")
            #expect(narrowed.objectValue?.keys.contains("entityId") == false)
        }
    }

    @Test func typeAndPropertyNamesMatchCaseInsensitively() async throws {
        try await NetSuiteHarness.run { netsuite in
            let customerId = try await netsuite.create("CUSTOMER", ["companyname": "Lower Case Inc", "Subsidiary": ["id": 1]])
            let customer = try await netsuite.get("/customer/\(customerId)")
            #expect(customer["companyName"] == "Lower Case Inc")
            let invoiceId = try await netsuite.create("invoice", Self.invoice(for: customerId))
            let paymentId = try await netsuite.create("customerpayment", Self.payment(customerId: customerId, invoiceId: invoiceId, amount: 10))
            let payment = try await netsuite.get("/customerPayment/\(paymentId)")
            #expect(payment["payment"] == 10)
        }
    }

    @Test func sublistsAreLinksUnlessExpanded() async throws {
        try await NetSuiteHarness.run { netsuite in
            let customerId = try await netsuite.create("customer", Self.customer("Lines Co"))
            let invoiceId = try await netsuite.create("invoice", Self.invoice(for: customerId))

            let collapsed = try await netsuite.get("/invoice/\(invoiceId)")
            let sublistURL = "\(netsuite.harness.base)\(Self.records)/invoice/\(invoiceId)/item"
            #expect(collapsed["item"] == ["links": [["rel": "self", "href": .string(sublistURL)]]])
            #expect(collapsed["total"] == 100)
            #expect(collapsed["amountRemaining"] == 100)
            #expect(collapsed["status"]?["refName"] == "Open")
            #expect(collapsed["entity"]?["refName"] == .string("CUST\(customerId) Lines Co"))
            #expect(collapsed["subsidiary"]?["id"] == "1")  // from the customer
            #expect(collapsed["tranId"] == .string("INV\(invoiceId)"))

            let expanded = try await netsuite.get("/invoice/\(invoiceId)?expandSubResources=true")
            let item = try #require(expanded["item"])
            #expect(item["totalResults"] == 2)
            #expect(item["count"] == 2)
            #expect(item["hasMore"] == false)
            #expect(item["offset"] == 0)
            let lines = try #require(item["items"]?.arrayValue)
            #expect(lines.compactMap { $0["amount"] } == [60, 40])
            #expect(lines.compactMap { $0["line"] } == [1, 2])
            #expect(lines.first?["item"]?["refName"] == "Subscription Fee")

            let sublist = try await netsuite.get("/invoice/\(invoiceId)/item")
            #expect(sublist["items"]?.arrayValue?.count == 2)
        }
    }

    // MARK: Update, upsert, delete

    @Test func patchMergesSublistLinesUnlessReplaceNamesTheSublist() async throws {
        try await NetSuiteHarness.run { netsuite in
            let customerId = try await netsuite.create("customer", Self.customer("Patch Co"))
            let invoiceId = try await netsuite.create("invoice", Self.invoice(for: customerId))
            let path = "\(Self.records)/invoice/\(invoiceId)"

            let merge: JSONValue = [
                "memo": "merged",
                "item": ["items": [["line": 1, "quantity": 3], ["item": ["id": "3"], "amount": 5]]],
            ]
            let patched = try await netsuite.send(.patch, path, json: merge)
            #expect(patched.status == 204)
            #expect(patched.header("Location") == "\(netsuite.harness.base)\(path)")
            var invoice = try await netsuite.get("/invoice/\(invoiceId)?expandSubResources=true")
            #expect(invoice["item"]?["items"]?.arrayValue?.compactMap { $0["amount"] } == [90, 40, 5])
            #expect(invoice["total"] == 135)
            #expect(invoice["memo"] == "merged")
            #expect(invoice["entity"]?["id"] == .string(customerId))  // omitted: unchanged

            let replace: JSONValue = ["memo": nil, "item": ["items": [["item": ["id": "2"], "rate": .number(Decimal(12.5)), "quantity": 2]]]]
            #expect(try await netsuite.send(.patch, path + "?replace=item", json: replace).status == 204)
            invoice = try await netsuite.get("/invoice/\(invoiceId)?expandSubResources=true")
            #expect(invoice["item"]?["items"]?.arrayValue?.compactMap { $0["amount"] } == [25])
            #expect(invoice["total"] == 25)
            #expect(invoice.objectValue?.keys.contains("memo") == false)

            let missingLine = try await netsuite.send(.patch, path, json: ["item": ["items": [["line": 9, "quantity": 1]]]])
            #expect(missingLine.status == 400)
            #expect(NetSuiteErrorDetail(missingLine).path == "item.items[0].line")
        }
    }

    @Test func putByExternalIdCreatesThenUpdatesTheSameRecord() async throws {
        try await NetSuiteHarness.run { netsuite in
            let customerId = try await netsuite.create("customer", Self.customer("Upsert Co"))
            let path = "\(Self.records)/invoice/eid:LAGO-INV-100"

            let created = try await netsuite.send(.put, path, json: Self.invoice(for: customerId))
            #expect(created.status == 204)
            let location = try #require(created.header("Location"))
            let id = String(location.split(separator: "/").last ?? "")

            var update = try #require(Self.invoice(for: customerId).objectValue)
            update["memo"] = "second delivery"
            let updated = try await netsuite.send(.put, path, json: .object(update))
            #expect(updated.status == 204)
            #expect(updated.header("Location") == location)

            let invoice = try await netsuite.get("/invoice/eid:LAGO-INV-100")
            #expect(invoice["id"] == .string(id))
            #expect(invoice["memo"] == "second delivery")
            #expect(invoice["externalId"] == "LAGO-INV-100")
            let matches = try await netsuite.get("/invoice?q=\(urlQuery("externalId IS \"LAGO-INV-100\""))")
            #expect(matches["totalResults"] == 1)

            update["externalId"] = "SOMETHING-ELSE"
            let conflicting = try await netsuite.send(.put, path, json: .object(update))
            #expect(conflicting.status == 400)
            #expect(NetSuiteErrorDetail(conflicting).code == "INVALID_CONTENT")

            let badKey = try await netsuite.send(.put, "\(Self.records)/invoice/eid:\(urlQuery("A|B"))", json: Self.invoice(for: customerId))
            #expect(badKey.status == 400)
            #expect(NetSuiteErrorDetail(badKey).code == "INVALID_CONTENT")
        }
    }

    @Test func deleteRemovesTheRecordAndUnknownIdsAre404() async throws {
        try await NetSuiteHarness.run { netsuite in
            let customerId = try await netsuite.create("customer", Self.customer("Delete Co"))
            let invoiceId = try await netsuite.create("invoice", Self.invoice(for: customerId, externalId: "DEL-1"))

            let refused = try await netsuite.send(.delete, "\(Self.records)/customer/\(customerId)")
            #expect(refused.status == 400)  // the invoice depends on it

            #expect(try await netsuite.send(.delete, "\(Self.records)/invoice/eid:DEL-1").status == 204)
            let gone = try await netsuite.send(.get, "\(Self.records)/invoice/\(invoiceId)")
            #expect(gone.status == 404)
            #expect(gone.json?["title"] == "Not Found")
            #expect(
                NetSuiteErrorDetail(gone)
                    == NetSuiteErrorDetail(
                        code: "NONEXISTENT_ID", detail: "The record instance does not exist. Provide a valid record instance ID.", path: nil))
            #expect(try await netsuite.send(.delete, "\(Self.records)/invoice/\(invoiceId)").status == 404)
            #expect(try await netsuite.send(.delete, "\(Self.records)/customer/\(customerId)").status == 204)

            let unknownType = try await netsuite.send(.get, "\(Self.records)/widget/1")
            #expect(unknownType.status == 404)
            #expect(NetSuiteErrorDetail(unknownType).detail == "Record type 'widget' does not exist.")
        }
    }

    @Test func listPagesWithLimitAndOffset() async throws {
        try await NetSuiteHarness.run { netsuite in
            var ids: [String] = []
            for index in 1...5 { ids.append(try await netsuite.create("customer", Self.customer("Page \(index)"))) }

            let first = try await netsuite.send(.get, "\(Self.records)/customer?limit=2&offset=0")
            #expect(first.status == 200)
            #expect(first.header("Content-Type") == "application/vnd.oracle.resource+json; type=collection")
            let page = try #require(first.json)
            #expect(page["count"] == 2)
            #expect(page["hasMore"] == true)
            #expect(page["totalResults"] == 5)
            #expect(page["offset"] == 0)
            #expect(page["items"]?.arrayValue?.compactMap { $0["id"] } == ids.prefix(2).map { JSONValue.string($0) })
            let relations = page["links"]?.arrayValue?.compactMap { $0["rel"]?.stringValue } ?? []
            #expect(relations.contains("next"))
            #expect(!relations.contains("prev"))

            let last = try await netsuite.get("/customer?limit=2&offset=4")
            #expect(last["count"] == 1)
            #expect(last["hasMore"] == false)
            #expect(last["items"]?.arrayValue?.first?["id"] == .string(ids[4]))

            let everything = try await netsuite.get("/customer")
            #expect(everything["count"] == 5)
            let filtered = try await netsuite.get("/customer?q=\(urlQuery("companyName IS \"Page 3\""))")
            #expect(filtered["items"]?.arrayValue?.compactMap { $0["id"] } == [JSONValue.string(ids[2])])

            let tooMany = try await netsuite.send(.get, "\(Self.records)/customer?limit=1001")
            #expect(tooMany.status == 400)
        }
    }

    // MARK: Validation

    @Test func duplicateExternalIdAndEntityIdAreRefused() async throws {
        try await NetSuiteHarness.run { netsuite in
            _ = try await netsuite.create("customer", Self.customer("First", externalId: "DUP-1"))
            let duplicate = try await netsuite.send(.post, "\(Self.records)/customer", json: Self.customer("Second", externalId: "DUP-1"))
            #expect(duplicate.status == 400)
            #expect(duplicate.json?["title"] == "Bad Request")
            #expect(duplicate.json?["type"] == "https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html#sec10.4.1")
            #expect(NetSuiteErrorDetail(duplicate).code == "USER_ERROR")
            #expect(NetSuiteErrorDetail(duplicate).detail == "Error while accessing a resource. This entity already exists.")

            _ = try await netsuite.create("customer", ["entityId": "ACME", "companyName": "Acme", "subsidiary": ["id": "1"]])
            let sameEntityId = try await netsuite.send(
                .post, "\(Self.records)/customer", json: ["entityId": "acme", "companyName": "Other", "subsidiary": ["id": "1"]])
            #expect(sameEntityId.status == 400)
            #expect(NetSuiteErrorDetail(sameEntityId).code == "USER_ERROR")
            #expect(NetSuiteErrorDetail(sameEntityId).path == "entityId")
        }
    }

    @Test func validationErrorsCarryCodeDetailAndPath() async throws {
        try await NetSuiteHarness.run { netsuite in
            func post(_ type: String, _ body: JSONValue? = nil, raw: String? = nil) async throws -> NetSuiteErrorDetail {
                let reply = try await netsuite.send(.post, "\(Self.records)/\(type)", json: body, raw: raw)
                #expect(reply.status == 400)
                #expect(reply.header("Content-Type") == "application/vnd.oracle.resource+json; type=error")
                return NetSuiteErrorDetail(reply)
            }
            let customerId = try await netsuite.create("customer", Self.customer("Valid Co"))
            let countsBefore = try await netsuite.harness.send(.get, "/_sandbox/records").json

            #expect(
                try await post("customer", ["subsidiary": ["id": "1"]])
                    == NetSuiteErrorDetail(
                        code: "USER_ERROR", detail: "Error while accessing a resource. Please enter value(s) for: Company Name.", path: "companyName"))
            #expect(
                try await post("customer", ["isPerson": true, "subsidiary": ["id": "1"]]).detail
                    == "Error while accessing a resource. Please enter value(s) for: First Name, Last Name.")

            let badItem: JSONValue = ["entity": ["id": .string(customerId)], "item": ["items": [["item": ["id": "9999"], "amount": 1]]]]
            #expect(
                try await post("invoice", badItem)
                    == NetSuiteErrorDetail(
                        code: "INVALID_CONTENT",
                        detail: "Error while accessing resource: You have entered an Invalid Field Value 9999 for the following field: item",
                        path: "item.items[0].item"))
            // A customer's internal ID is not an item.
            let customerAsItem: JSONValue = ["entity": ["id": .string(customerId)], "item": ["items": [["item": ["id": .string(customerId)], "amount": 1]]]]
            #expect(try await post("invoice", customerAsItem).path == "item.items[0].item")
            #expect(try await post("invoice", ["entity": ["id": "1"], "item": ["items": [["item": ["id": "1"], "amount": 1]]]]).path == "entity")

            let wrongType = try await post("customer", ["companyName": 5, "subsidiary": ["id": "1"]])
            #expect(wrongType.code == "INVALID_CONTENT")
            #expect(wrongType.path == "companyName")
            #expect(wrongType.detail?.hasPrefix("Invalid value type for field companyName") == true)

            #expect(try await post("customer", raw: "{\"companyName\": ").code == "INVALID_CONTENT")
            #expect(try await post("customer", ["companyName": .string(String(repeating: "x", count: 84)), "subsidiary": ["id": "1"]]).code == "INVALID_CONTENT")
            #expect(try await post("customer", Self.customer("Bad External", externalId: "A|B")).path == "externalId")
            let badEnum = try await post("customer", ["companyName": "E", "subsidiary": ["id": "1"], "emailPreference": "_fax"])
            #expect(badEnum.code == "INVALID_CONTENT")
            #expect(badEnum.path == "emailPreference")
            #expect(try await post("invoice", ["entity": ["id": .string(customerId)], "tranDate": "2025-02-30", "item": ["items": [["item": ["id": "1"], "amount": 1]]]]).path == "tranDate")

            #expect(
                try await post("invoice", ["entity": ["id": .string(customerId)]])
                    == NetSuiteErrorDetail(code: "USER_ERROR", detail: "You must enter at least one line item for this transaction.", path: "item"))
            #expect(try await post("invoice", ["entity": ["id": .string(customerId)], "item": ["items": [["item": ["id": "1"]]]]]).path == "item.items[0].amount")

            // None of the refused requests left anything behind.
            #expect(try await netsuite.harness.send(.get, "/_sandbox/records").json == countsBefore)
        }
    }

    @Test func unknownPropertiesFollowThePropertyNameValidationHeader() async throws {
        let validation = try #require(HTTPField.Name("X-NetSuite-PropertyNameValidation"))
        try await NetSuiteHarness.run { netsuite in
            var body = try #require(Self.customer("Typo Co").objectValue)
            body["compnyName"] = "typo"

            let refused = try await netsuite.send(.post, "\(Self.records)/customer", json: .object(body), headers: [validation: "Error"])
            #expect(refused.status == 400)
            #expect(NetSuiteErrorDetail(refused).code == "INVALID_CONTENT")
            #expect(NetSuiteErrorDetail(refused).path == "compnyName")

            let warned = try await netsuite.send(.post, "\(Self.records)/customer", json: .object(body))
            #expect(warned.status == 204)
            #expect(warned.header("X-NetSuite-Warning")?.contains("compnyName") == true)

            body["total"] = 5  // not a customer field either
            let ignored = try await netsuite.send(.post, "\(Self.records)/customer", json: .object(body), headers: [validation: "Ignore"])
            #expect(ignored.status == 204)
            #expect(ignored.header("X-NetSuite-Warning") == nil)

            // Read-only fields are skipped, even under Error.
            let customerId = try await netsuite.create("customer", Self.customer("Read Only Co"))
            var invoice = try #require(Self.invoice(for: customerId).objectValue)
            invoice["total"] = 1
            invoice["id"] = "77"
            let readOnly = try await netsuite.send(.post, "\(Self.records)/invoice", json: .object(invoice), headers: [validation: "Error"])
            #expect(readOnly.status == 204)
            let invoiceId = String(readOnly.header("Location")?.split(separator: "/").last ?? "")
            let stored = try await netsuite.get("/invoice/\(invoiceId)")
            #expect(stored["total"] == 100)
            #expect(invoiceId != "77")

            let counts = try await netsuite.stats()["ignoredProperties"]
            #expect(counts?["customer.compnyName"] == 2)
            #expect(counts?["customer.total"] == 1)
            #expect(counts?["invoice.total"] == 1)
            #expect(counts?["invoice.id"] == 1)
        }
    }

    // MARK: Domain rules

    @Test func paymentsAndCreditsSettleInvoices() async throws {
        try await NetSuiteHarness.run { netsuite in
            let customerId = try await netsuite.create("customer", Self.customer("Payer Co"))
            let otherCustomerId = try await netsuite.create("customer", Self.customer("Someone Else"))
            let invoiceId = try await netsuite.create("invoice", Self.invoice(for: customerId))

            let firstPayment = try await netsuite.create("customerPayment", Self.payment(customerId: customerId, invoiceId: invoiceId, amount: 60))
            var invoice = try await netsuite.get("/invoice/\(invoiceId)")
            #expect(invoice["amountRemaining"] == 40)
            #expect(invoice["status"]?["refName"] == "Open")

            let overApplied = try await netsuite.send(
                .post, "\(Self.records)/customerPayment", json: Self.payment(customerId: customerId, invoiceId: invoiceId, amount: 50))
            #expect(overApplied.status == 400)
            #expect(NetSuiteErrorDetail(overApplied).code == "USER_ERROR")
            #expect(NetSuiteErrorDetail(overApplied).path == "apply.items[0].amount")
            let moreThanPaid = try await netsuite.send(
                .post, "\(Self.records)/customerPayment", json: Self.payment(customerId: customerId, invoiceId: invoiceId, amount: 30, payment: 20))
            #expect(moreThanPaid.status == 400)
            let wrongCustomer = try await netsuite.send(
                .post, "\(Self.records)/customerPayment", json: Self.payment(customerId: otherCustomerId, invoiceId: invoiceId, amount: 10))
            #expect(NetSuiteErrorDetail(wrongCustomer).path == "apply.items[0].doc")
            invoice = try await netsuite.get("/invoice/\(invoiceId)")
            #expect(invoice["amountRemaining"] == 40)  // the refused payments changed nothing

            let secondPayment = try await netsuite.create("customerPayment", Self.payment(customerId: customerId, invoiceId: invoiceId, amount: 40))
            invoice = try await netsuite.get("/invoice/\(invoiceId)")
            #expect(invoice["amountRemaining"] == 0)
            #expect(invoice["status"]?["refName"] == "Paid In Full")
            let payment = try await netsuite.get("/customerPayment/\(secondPayment)?expandSubResources=true")
            #expect(payment["payment"] == 40)
            #expect(payment["applied"] == 40)
            #expect(payment["apply"]?["items"]?.arrayValue?.first?["doc"]?["refName"] == .string("Invoice #INV\(invoiceId)"))

            #expect(try await netsuite.send(.delete, "\(Self.records)/customerPayment/\(firstPayment)").status == 204)
            invoice = try await netsuite.get("/invoice/\(invoiceId)")
            #expect(invoice["amountRemaining"] == 60)

            // Un-applying a line through PATCH gives the amount back too.
            let unapply: JSONValue = ["apply": ["items": [["doc": ["id": .string(invoiceId)], "apply": false]]]]
            #expect(try await netsuite.send(.patch, "\(Self.records)/customerPayment/\(secondPayment)", json: unapply).status == 204)
            invoice = try await netsuite.get("/invoice/\(invoiceId)")
            #expect(invoice["amountRemaining"] == 100)

            let credit: JSONValue = [
                "entity": ["id": .string(customerId)],
                "item": ["items": [["item": ["id": "5"], "amount": 10]]],
                "apply": ["items": [["doc": ["id": .string(invoiceId)], "apply": true, "amount": 10]]],
            ]
            _ = try await netsuite.create("creditMemo", credit)
            invoice = try await netsuite.get("/invoice/\(invoiceId)")
            #expect(invoice["amountRemaining"] == 90)
        }
    }

    // MARK: Faults, limits, reset

    static let concurrencyLimitBody: JSONValue = [
        "type": "https://www.rfc-editor.org/rfc/rfc6585.html#section-4", "title": "Too Many Requests", "status": 429,
        "o:errorDetails": [["detail": "Concurrent request limit exceeded. Request blocked.", "o:errorCode": "CONCURRENCY_LIMIT_EXCEEDED"]],
    ]

    @Test func requestsOverTheConcurrencyLimitGet429() async throws {
        try await NetSuiteHarness.run(configure: { $0.concurrencyLimit = 2 }) { netsuite in
            try await netsuite.setFaults(["latencyMs": ["min": 400, "max": 400]])
            let replies = try await withThrowingTaskGroup(of: SandboxHarness.Reply.self) { group in
                for _ in 0..<8 {
                    group.addTask { try await netsuite.send(.get, "\(Self.records)/currency/1") }
                }
                var replies: [SandboxHarness.Reply] = []
                for try await reply in group { replies.append(reply) }
                return replies
            }
            let rejected = replies.filter { $0.status == 429 }
            #expect(!rejected.isEmpty)
            #expect(replies.contains { $0.status == 200 })
            #expect(replies.allSatisfy { $0.status == 200 || $0.status == 429 })
            #expect(rejected.first?.json == Self.concurrencyLimitBody)

            let stats = try await netsuite.stats()
            #expect(decimal(stats["rejectedOverConcurrencyLimit"]) == Decimal(rejected.count))
            #expect((decimal(stats["maxConcurrency"]) ?? 0) > 2)
            #expect(stats["concurrencyLimit"] == 2)
        }
    }

    @Test func commitThenFailWritesTheRecordAndARetryCreatesNoDuplicate() async throws {
        try await NetSuiteHarness.run { netsuite in
            let path = "\(Self.records)/customer/eid:RETRY-1"
            try await netsuite.setFaults(["commitThenFailRate": 1])
            let failed = try await netsuite.send(.put, path, json: Self.customer("Retry Co"))
            #expect(failed.status == 500)
            #expect(NetSuiteErrorDetail(failed).code == "UNEXPECTED_ERROR")
            #expect(failed.json?["title"] == "Internal Server Error")

            try await netsuite.setFaults([:])
            let stored = try await netsuite.get("/customer/eid:RETRY-1")
            let retried = try await netsuite.send(.put, path, json: Self.customer("Retry Co"))
            #expect(retried.status == 204)
            #expect(retried.header("Location")?.hasSuffix("/customer/\(stored["id"]?.stringValue ?? "?")") == true)
            let matches = try await netsuite.get("/customer?q=\(urlQuery("externalId IS \"RETRY-1\""))")
            #expect(matches["totalResults"] == 1)
            #expect(decimal(try await netsuite.stats()["faultsInjected"]?["commitThenFail"]) == 1)
        }
    }

    @Test func resetRestoresTheSeedDataAndInspectionShowsFullRecords() async throws {
        try await NetSuiteHarness.run { netsuite in
            let customerId = try await netsuite.create("customer", Self.customer("Reset Co"))
            _ = try await netsuite.create("invoice", Self.invoice(for: customerId))
            let invoices = try await netsuite.harness.send(.get, "/_sandbox/records/invoice").json?.arrayValue ?? []
            #expect(invoices.count == 1)
            #expect(invoices.first?["item"]?["items"]?.arrayValue?.count == 2)
            _ = try await netsuite.harness.send(.get, "\(Self.records)/customer")  // unsigned: a login failure

            #expect(try await netsuite.harness.send(.post, "/_sandbox/reset").status == 204)
            let counts = try await netsuite.harness.send(.get, "/_sandbox/records").json
            #expect(counts?["customer"] == 0)
            #expect(counts?["invoice"] == 0)
            #expect(counts?["currency"] == 4)
            #expect(counts?["subsidiary"] == 1)
            #expect(try await netsuite.stats()["loginAudit"] == [])
            let pound = try await netsuite.get("/currency/2")
            #expect(pound["symbol"] == "GBP")
        }
    }
}
