import Contract
import CurlHTTP
import Foundation

/// One entry of a NetSuite error body's `o:errorDetails`.
public struct NetSuiteErrorDetail: Sendable, Hashable, Codable {
    /// `o:errorCode`, e.g. `INVALID_CONTENT`, `USER_ERROR`, `NONEXISTENT_ID`.
    public let code: String
    /// The human-readable text NetSuite gave.
    public let detail: String
    /// `o:errorPath`: the JSON path of the offending value in the request body, e.g.
    /// `item.items[0].item`, when NetSuite names one.
    public let path: String?

    public init(code: String, detail: String, path: String? = nil) {
        self.code = code
        self.detail = detail
        self.path = path
    }
}

/// Why a NetSuite call failed.
public enum NetSuiteCallError: Error, Sendable, CustomStringConvertible {
    /// 401 / INVALID_LOGIN etc., or the OAuth 2.0 token endpoint refused the assertion. Not retryable.
    case authentication(message: String)
    /// Worth retrying later: 429 (concurrency limit, SSS_REQUEST_LIMIT_EXCEEDED), 5xx, timeouts, dropped connections.
    /// `status` is nil when no HTTP response came (including when the calling task was cancelled).
    case transient(status: Int?, message: String)
    /// The request was refused (4xx with NetSuite's error body): the details as NetSuite gave them.
    case rejected(status: Int, details: [NetSuiteErrorDetail])

    public var description: String {
        switch self {
        case .authentication(let message):
            return "NetSuite authentication failed: \(message)"
        case .transient(let status, let message):
            return "NetSuite call failed for now (\(status.map { "HTTP \($0)" } ?? "no response")): \(message)"
        case .rejected(let status, let details):
            let text = details.map { detail in
                "\(detail.code): \(detail.detail)" + (detail.path.map { " (at \($0))" } ?? "")
            }
            return "NetSuite refused the request (HTTP \(status)): \(text.joined(separator: "; "))"
        }
    }
}

/// Reading NetSuite's error bodies (reference B3) and sorting failures into `NetSuiteCallError`.
enum NetSuiteErrors {
    /// Codes that mean "too many requests at once", whatever the status they arrive with: REST web
    /// services answer 429 `CONCURRENCY_LIMIT_EXCEEDED`, RESTlets 400 `SSS_REQUEST_LIMIT_EXCEEDED`.
    static let concurrencyCodes: Set<String> = ["CONCURRENCY_LIMIT_EXCEEDED", "SSS_REQUEST_LIMIT_EXCEEDED"]

    /// The `o:errorDetails` entries of `body`. A body without any (not JSON, or a bare
    /// `{"title", "status", "o:errorCode"}`) gives one entry made from what it has, so a refusal always
    /// carries at least one detail.
    static func details(status: Int, body: [UInt8]) -> [NetSuiteErrorDetail] {
        let json = JSONValue.parse(body)
        let entries = json?["o:errorDetails"]?.arrayValue ?? []
        let topLevelCode = json?["o:errorCode"]?.stringValue
        let parsed = entries.compactMap { entry -> NetSuiteErrorDetail? in
            guard entry.objectValue != nil else { return nil }
            return NetSuiteErrorDetail(
                code: entry["o:errorCode"]?.stringValue ?? topLevelCode ?? "HTTP_\(status)",
                detail: entry["detail"]?.stringValue ?? "",
                path: entry["o:errorPath"]?.stringValue)
        }
        if !parsed.isEmpty { return parsed }
        let text = json?["title"]?.stringValue ?? excerpt(body)
        return [NetSuiteErrorDetail(code: topLevelCode ?? "HTTP_\(status)", detail: text, path: nil)]
    }

    /// The error for a record-service response that is not a success.
    static func callError(status: Int, body: [UInt8]) -> NetSuiteCallError {
        let details = details(status: status, body: body)
        let summary = details.map { "\($0.code): \($0.detail)" }.joined(separator: "; ")
        if status == 401 {
            return .authentication(message: summary)
        }
        if status == 429 || status == 408 || status >= 500 || details.contains(where: { concurrencyCodes.contains($0.code) }) {
            return .transient(status: status, message: summary)
        }
        return .rejected(status: status, details: details)
    }

    /// The error for a request that got no response.
    static func callError(_ error: any Error) -> NetSuiteCallError {
        switch error {
        case let error as NetSuiteCallError:
            return error
        case let error as CurlHTTPError:
            let reason = error.isRetryable ? "" : " (\(error.kind))"
            return .transient(status: nil, message: "no response\(reason): \(error.message)")
        case is CancellationError:
            return .transient(status: nil, message: "the request was cancelled")
        default:
            return .transient(status: nil, message: "no response: \(error)")
        }
    }

    /// The start of a body for an error message, on one line.
    static func excerpt(_ body: [UInt8], limit: Int = 200) -> String {
        let text = String(decoding: body.prefix(limit), as: UTF8.self)
            .replacingOccurrences(of: "\n", with: " ").trimmingCharacters(in: .whitespaces)
        return text.isEmpty ? "(empty body)" : text + (body.count > limit ? "…" : "")
    }
}
