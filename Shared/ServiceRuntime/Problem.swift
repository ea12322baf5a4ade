import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// An RFC 9457 problem: every error a Crossbill service answers over HTTP has this body, with
/// `Content-Type: application/problem+json`.
public struct Problem: HTTPResponseError, Sendable {
    public let status: HTTPResponse.Status
    /// A stable identifier of the kind of problem, e.g. `invalid-signature`.
    public let kind: String
    public let detail: String
    public let headers: HTTPFields

    public init(_ status: HTTPResponse.Status, kind: String, detail: String, headers: HTTPFields = [:]) {
        self.status = status
        self.kind = kind
        self.detail = detail
        self.headers = headers
    }

    private struct Body: Encodable {
        let type: String
        let title: String
        let status: Int
        let detail: String
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let body = Body(type: "urn:crossbill:problem:\(kind)", title: status.reasonPhrase, status: status.code, detail: detail)
        let encoded = try JSONEncoder().encode(body)
        var headers = headers
        headers[.contentType] = "application/problem+json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: encoded)))
    }
}

/// Answers every error with a problem body: Hummingbird's own errors (unknown route, body too large)
/// and unexpected errors, which become a 500 without internal detail.
public struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let problem as Problem {
            throw problem
        } catch let error as any HTTPResponseError {
            let kind = error.status.reasonPhrase.lowercased().replacingOccurrences(of: " ", with: "-")
            throw Problem(error.status, kind: kind, detail: Self.detail(of: error))
        } catch {
            context.logger.error("request failed", metadata: ["error": "\(error)"])
            throw Problem(.internalServerError, kind: "internal-error", detail: "The request could not be processed.")
        }
    }

    private static func detail(of error: some HTTPResponseError) -> String {
        if let httpError = error as? HTTPError, let message = httpError.body { return message }
        return error.status.reasonPhrase
    }
}
