import Foundation
import HTTPTypes
import HummingbirdTesting
import Ingest
import NIOCore
import TestSupport
import Testing

@Suite("Ingest rejects bad webhooks with a problem body and stores nothing", .timeLimit(.minutes(3)))
struct WebhookRejectionTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let status: HTTPResponse.Status
        let kind: String
        let organization: String
        let body: [UInt8]
        let headers: @Sendable ([UInt8]) async throws -> HTTPFields

        var testDescription: String { name }
    }

    static let customer = try! Fixtures.lago("customer.created")

    static func hmacHeaders(contentType: String? = "application/json", key: String = IngestHarness.hmacKey) -> @Sendable ([UInt8]) async throws -> HTTPFields {
        { body in
            var headers: HTTPFields = [
                HTTPField.Name("X-Lago-Signature")!: LagoSigning.hmac(body, key: key),
                HTTPField.Name("X-Lago-Signature-Algorithm")!: "hmac",
            ]
            if let contentType { headers[.contentType] = contentType }
            return headers
        }
    }

    static func jwtHeaders(issuer: String = IngestHarness.issuer, data: String? = nil) -> @Sendable ([UInt8]) async throws -> HTTPFields {
        { body in
            [
                .contentType: "application/json",
                HTTPField.Name("X-Lago-Signature")!: try await LagoSigning.jwt(body, issuer: issuer, data: data),
                HTTPField.Name("X-Lago-Signature-Algorithm")!: "jwt",
            ]
        }
    }

    static let cases: [Case] = [
        Case(name: "missing signature", status: .unauthorized, kind: "invalid-signature", organization: "acme", body: customer,
             headers: { _ in [.contentType: "application/json"] }),
        Case(name: "hmac with the wrong key", status: .unauthorized, kind: "invalid-signature", organization: "acme", body: customer,
             headers: hmacHeaders(key: "someone-else")),
        Case(name: "hmac that is not base64", status: .unauthorized, kind: "invalid-signature", organization: "acme", body: customer,
             headers: { _ in [.contentType: "application/json", HTTPField.Name("X-Lago-Signature")!: "%%%", HTTPField.Name("X-Lago-Signature-Algorithm")!: "hmac"] }),
        Case(name: "unknown signature algorithm", status: .unauthorized, kind: "invalid-signature", organization: "acme", body: customer,
             headers: { body in [.contentType: "application/json", HTTPField.Name("X-Lago-Signature")!: LagoSigning.hmac(body, key: IngestHarness.hmacKey), HTTPField.Name("X-Lago-Signature-Algorithm")!: "md5"] }),
        Case(name: "jwt from another issuer", status: .unauthorized, kind: "invalid-signature", organization: "acme", body: customer,
             headers: jwtHeaders(issuer: "https://impostor.example")),
        Case(name: "jwt whose data is another body", status: .unauthorized, kind: "invalid-signature", organization: "acme", body: customer,
             headers: jwtHeaders(data: #"{"webhook_type":"customer.created"}"#)),
        Case(name: "jwt that is garbage", status: .unauthorized, kind: "invalid-signature", organization: "acme", body: customer,
             headers: { _ in [.contentType: "application/json", HTTPField.Name("X-Lago-Signature")!: "a.b.c", HTTPField.Name("X-Lago-Signature-Algorithm")!: "jwt"] }),
        Case(name: "unknown organization", status: .notFound, kind: "unknown-organization", organization: "globex", body: customer,
             headers: hmacHeaders()),
        Case(name: "body that is not JSON", status: .badRequest, kind: "invalid-json", organization: "acme", body: Array("webhook_type=customer.created".utf8),
             headers: hmacHeaders()),
        Case(name: "JSON that is not an envelope", status: .badRequest, kind: "not-a-lago-webhook", organization: "acme", body: Array(#"{"hello":"world"}"#.utf8),
             headers: hmacHeaders()),
        Case(name: "envelope without its object", status: .badRequest, kind: "not-a-lago-webhook", organization: "acme",
             body: Array(#"{"webhook_type":"customer.created","object_type":"customer","organization_id":"b7ab2926-1de8-4428-9bcd-779314ac129b"}"#.utf8),
             headers: hmacHeaders()),
        Case(name: "JSON array", status: .badRequest, kind: "not-a-lago-webhook", organization: "acme", body: Array("[1,2,3]".utf8),
             headers: hmacHeaders()),
        Case(name: "another organization's id in the body", status: .badRequest, kind: "organization-mismatch", organization: "acme",
             body: Array(#"{"webhook_type":"customer.created","object_type":"customer","organization_id":"00000000-0000-0000-0000-000000000000","customer":{"external_id":"c"}}"#.utf8),
             headers: hmacHeaders()),
        Case(name: "body over the limit", status: .contentTooLarge, kind: "body-too-large", organization: "acme",
             body: Array(repeating: UInt8(ascii: " "), count: 64 * 1024 + 1), headers: hmacHeaders()),
        Case(name: "form content type", status: .unsupportedMediaType, kind: "unsupported-media-type", organization: "acme", body: customer,
             headers: hmacHeaders(contentType: "application/x-www-form-urlencoded")),
        Case(name: "no content type", status: .unsupportedMediaType, kind: "unsupported-media-type", organization: "acme", body: customer,
             headers: hmacHeaders(contentType: nil)),
    ]

    @Test(arguments: cases)
    func rejected(_ testCase: Case) async throws {
        let harness = try IngestHarness()
        try await harness.run { client in
            let headers = try await testCase.headers(testCase.body)
            let response = try await client.execute(
                uri: "/webhooks/lago/\(testCase.organization)", method: .post, headers: headers,
                body: ByteBuffer(bytes: testCase.body))
            #expect(response.status == testCase.status)
            #expect(response.headers[.contentType] == "application/problem+json")
            let problem = try json(response)
            #expect(problem["status"] as? Int == testCase.status.code)
            #expect(problem["type"] as? String == "urn:crossbill:problem:\(testCase.kind)")
            #expect((problem["detail"] as? String)?.isEmpty == false)
        }
        let events = try await harness.events(count: 1, timeout: .seconds(4))
        #expect(events.isEmpty, "a rejected webhook produces no event")
    }

    @Test func charsetParameterOnTheContentTypeIsAccepted() async throws {
        let harness = try IngestHarness()
        try await harness.run { client in
            let response = try await client.postWebhook(Self.customer, headers: try await Self.hmacHeaders(contentType: "application/json; charset=utf-8")(Self.customer))
            #expect(response.status == .ok)
        }
    }

    @Test func unknownRoutesGetAProblemToo() async throws {
        let harness = try IngestHarness()
        try await harness.run { client in
            let response = try await client.execute(uri: "/nowhere", method: .get)
            #expect(response.status == .notFound)
            #expect(response.headers[.contentType] == "application/problem+json")
        }
    }
}
