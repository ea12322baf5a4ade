import HTTPTypes

/// Settings of a `CurlHTTPClient`.
public struct CurlHTTPClientConfiguration: Sendable {
    /// Time allowed to establish a connection (TCP and TLS).
    public var connectTimeout: Duration
    /// Time allowed for a whole request, unless the request sets its own.
    public var requestTimeout: Duration
    /// Responses with a larger body fail with `CurlHTTPError.Kind.responseTooLarge`.
    public var maximumResponseSize: Int
    /// Verify the server's certificate and host name. Turn off only against a local simulator.
    public var verifyTLS: Bool
    /// A CA bundle to trust instead of the system's.
    public var caBundlePath: String?
    /// Connections kept open per host; requests beyond it wait for a free connection.
    public var maximumConnectionsPerHost: Int
    public var userAgent: String

    public init(
        connectTimeout: Duration = .seconds(10),
        requestTimeout: Duration = .seconds(60),
        maximumResponseSize: Int = 16 * 1024 * 1024,
        verifyTLS: Bool = true,
        caBundlePath: String? = nil,
        maximumConnectionsPerHost: Int = 32,
        userAgent: String = "crossbill"
    ) {
        self.connectTimeout = connectTimeout
        self.requestTimeout = requestTimeout
        self.maximumResponseSize = maximumResponseSize
        self.verifyTLS = verifyTLS
        self.caBundlePath = caBundlePath
        self.maximumConnectionsPerHost = maximumConnectionsPerHost
        self.userAgent = userAgent
    }
}

public struct HTTPClientRequest: Sendable {
    public var method: HTTPRequest.Method
    public var url: String
    public var headers: HTTPFields
    public var body: [UInt8]?
    /// Overrides the client's `requestTimeout` for this request.
    public var timeout: Duration?

    public init(method: HTTPRequest.Method = .get, url: String, headers: HTTPFields = [:], body: [UInt8]? = nil, timeout: Duration? = nil) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
    }
}

public struct HTTPClientResponse: Sendable {
    public var status: HTTPResponse.Status
    /// The headers of the final response, in the order the server sent them.
    public var headers: HTTPFields
    public var body: [UInt8]

    public var bodyText: String { String(decoding: body, as: UTF8.self) }
}

/// A request that got no HTTP response.
public struct CurlHTTPError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// No complete answer within the timeout: the request may or may not have had its effect.
        case timeout
        /// Connecting failed, or the connection broke before a complete answer.
        case connection
        /// The TLS handshake or the certificate check failed.
        case tls
        /// The response body exceeded `maximumResponseSize`.
        case responseTooLarge
        /// The client was shut down.
        case shutdown
        case other
    }

    public let kind: Kind
    /// libcurl's `CURLcode`, when libcurl reported the error.
    public let curlCode: Int32?
    public let message: String

    /// Worth retrying: the server may answer next time.
    public var isRetryable: Bool { kind == .timeout || kind == .connection }

    public var description: String { "HTTP request failed (\(kind)): \(message)" }
}
