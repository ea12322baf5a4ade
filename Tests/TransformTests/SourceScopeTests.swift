import Contract
import Testing

@testable import Transform

@Suite("Source paths in billing objects")
struct SourceScopeTests {
    let invoice: JSONValue = [
        "lago_id": "inv-1",
        "customer": ["billing": ["city": "Paris"]],
        "fees": [["amount_cents": 1000], ["amount_cents": 2500]],
    ]

    @Test func pathsWalkMembersAndArrayIndexes() {
        let scope = SourceScope(root: invoice)
        #expect(scope.value(at: "lago_id") == "inv-1")
        #expect(scope.value(at: "customer.billing.city") == "Paris")
        #expect(scope.value(at: "fees.1.amount_cents") == 2500)
        #expect(scope.value(at: "$") == invoice)
    }

    @Test func whatIsNotThereIsNull() {
        let scope = SourceScope(root: invoice)
        for path in ["missing", "fees.2.amount_cents", "fees.first", "lago_id.more", "customer.", "", "customer..city"] {
            #expect(scope.value(at: path) == .null, "\(path)")
        }
    }

    @Test func aLineReadsItsElementAndTheWholeObjectThroughTheRoot() {
        let line = SourceScope(root: invoice, element: ["amount_cents": 1000])
        #expect(line.value(at: "amount_cents") == 1000)
        #expect(line.value(at: "$.lago_id") == "inv-1")
        #expect(line.value(at: "$.fees.0.amount_cents") == 1000)
        #expect(line.value(at: "lago_id") == .null)
    }
}
