import Contract
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SandboxCore

/// One error in NetSuite's REST format: an entry of `o:errorDetails` and the status it comes with.
struct NetSuiteError: Error, Sendable, Equatable {
    let status: Int
    let code: String
    let detail: String
    /// JSON path of the offending value in the request body, e.g. `item.items[0].item`.
    var path: String?

    init(status: Int = 400, code: String, detail: String, path: String? = nil) {
        self.status = status
        self.code = code
        self.detail = detail
        self.path = path
    }

    static func invalidContent(_ detail: String, path: String? = nil) -> NetSuiteError {
        NetSuiteError(code: "INVALID_CONTENT", detail: detail, path: path)
    }

    static func userError(_ detail: String, path: String? = nil) -> NetSuiteError {
        NetSuiteError(code: "USER_ERROR", detail: detail, path: path)
    }

    /// Every authentication failure looks the same from outside; the reason goes to the login audit.
    static let invalidLogin = NetSuiteError(
        status: 401, code: "INVALID_LOGIN",
        detail: "Invalid login attempt. For more details, see the Login Audit Trail in the NetSuite UI at Setup > Users/Roles > User Management > View Login Audit Trail."
    )

    static let nonexistentId = NetSuiteError(
        status: 404, code: "NONEXISTENT_ID", detail: "The record instance does not exist. Provide a valid record instance ID.")

    /// Unverified: the code NetSuite gives an unknown record type.
    static func unknownRecordType(_ name: String) -> NetSuiteError {
        NetSuiteError(status: 404, code: "INVALID_ID", detail: "Record type '\(name)' does not exist.")
    }

    /// Detail from the community (several client libraries agree); no Oracle page states it.
    static let concurrencyLimitExceeded = NetSuiteError(
        status: 429, code: "CONCURRENCY_LIMIT_EXCEEDED", detail: "Concurrent request limit exceeded. Request blocked.")

    static let invalidJSON = invalidContent("Invalid content in the request body.")

    var body: JSONValue {
        var entry: [String: JSONValue] = ["detail": .string(detail), "o:errorCode": .string(code)]
        if let path { entry["o:errorPath"] = .string(path) }
        return [
            "type": .string(Self.typeURL(status)),
            "title": .string(Self.title(status)),
            "status": .number(Decimal(status)),
            "o:errorDetails": [.object(entry)],
        ]
    }

    /// The status's reason phrase (a status made from a bare code has none).
    private static func title(_ status: Int) -> String {
        let known: [HTTPResponse.Status] = [
            .badRequest, .unauthorized, .forbidden, .notFound, .methodNotAllowed, .notAcceptable, .requestTimeout, .conflict,
            .contentTooLarge, .unsupportedMediaType, .tooManyRequests, .internalServerError, .badGateway, .serviceUnavailable,
            .gatewayTimeout,
        ]
        return known.first { $0.code == status }?.reasonPhrase ?? (status >= 500 ? "Server Error" : "Client Error")
    }

    /// The `type` of the body. 400 (RFC 2616), 401 (RFC 9110) and 429 (RFC 6585) are as documented for
    /// NetSuite; the other statuses follow the RFC 9110 pattern NetSuite's newer answers use (unverified).
    private static func typeURL(_ status: Int) -> String {
        switch status {
        case 400: "https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html#sec10.4.1"
        case 429: "https://www.rfc-editor.org/rfc/rfc6585.html#section-4"
        default:
            "https://www.rfc-editor.org/rfc/rfc9110.html#section-" + (rfc9110Sections[status] ?? (status >= 500 ? "15.6" : "15.5"))
        }
    }

    private static let rfc9110Sections: [Int: String] = [
        401: "15.5.2", 403: "15.5.4", 404: "15.5.5", 405: "15.5.6", 406: "15.5.7", 408: "15.5.9", 409: "15.5.10",
        413: "15.5.14", 415: "15.5.16", 500: "15.6.1", 502: "15.6.3", 503: "15.6.4", 504: "15.6.5",
    ]

    /// The error a status stands for when the sandbox refuses a request without handling it (an injected
    /// fault, an unknown route). The codes for statuses other than 401 and 429 are unverified.
    static func forStatus(_ status: Int, message: String) -> NetSuiteError {
        switch status {
        case 401: invalidLogin
        case 429: concurrencyLimitExceeded
        case 500...: NetSuiteError(status: status, code: "UNEXPECTED_ERROR", detail: message)
        default: NetSuiteError(status: status, code: "USER_ERROR", detail: message)
        }
    }
}

/// Builds the sandbox's HTTP answers in NetSuite's media types.
enum NetSuiteResponse {
    static let recordType = "application/vnd.oracle.resource+json; type=singular-resource"
    static let collectionType = "application/vnd.oracle.resource+json; type=collection"
    /// Per NetSuite's OpenAPI description as generated clients use it (secondary source).
    static let errorType = "application/vnd.oracle.resource+json; type=error"
    static let warningHeader = HTTPField.Name("X-NetSuite-Warning")!

    static func json(_ value: JSONValue, status: Int = 200, contentType: String, headers: HTTPFields = [:]) -> Response {
        var headers = headers
        headers[.contentType] = contentType
        return Response(status: .init(code: status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: value.encoded())))
    }

    static func error(_ error: NetSuiteError, headers: HTTPFields = [:]) -> Response {
        json(error.body, status: error.status, contentType: errorType, headers: headers)
    }

    static func noContent(headers: HTTPFields) -> Response {
        Response(status: .noContent, headers: headers)
    }
}
