import CCurl
import Foundation
import HTTPTypes
import Logging
import ServiceLifecycle
import Synchronization

/// An async HTTP client over libcurl. One multi handle, driven by a dedicated thread, carries every
/// request of the process and keeps connections open between requests.
public final class CurlHTTPClient: Service, Sendable {
    private let configuration: CurlHTTPClientConfiguration
    private let logger: Logger
    private let engine: CurlEngine

    public init(configuration: CurlHTTPClientConfiguration = .init(), logger: Logger) {
        CurlEngine.initializeLibrary
        self.configuration = configuration
        self.logger = logger
        self.engine = CurlEngine(configuration: configuration)
        engine.start()
    }

    deinit {
        engine.stop()
    }

    /// Sends the request and returns the response, whatever its status. Throws `CurlHTTPError` when no
    /// response came, and `CancellationError` when the calling task was cancelled.
    public func execute(_ request: HTTPClientRequest) async throws -> HTTPClientResponse {
        let transfer = try Transfer(request: request, configuration: configuration)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                transfer.continuation = continuation
                engine.submit(transfer)
            }
        } onCancel: {
            engine.cancel(transfer.id)
        }
    }

    /// Runs until graceful shutdown, then fails what is still in flight and stops the engine thread.
    public func run() async throws {
        try? await gracefulShutdown()
        shutdown()
    }

    public func shutdown() {
        engine.stop()
    }
}

/// One request in flight. Confined to the engine thread once submitted, except `continuation`, which
/// is set before submission and resumed exactly once by the engine.
final class Transfer: @unchecked Sendable {
    private static let nextID = Atomic<UInt64>(0)

    let id = Transfer.nextID.add(1, ordering: .relaxed).newValue
    let easy: UnsafeMutableRawPointer
    let maximumResponseSize: Int
    var continuation: CheckedContinuation<HTTPClientResponse, any Error>?
    var headerList: UnsafeMutablePointer<curl_slist>?
    var body: [UInt8] = []
    var headers: HTTPFields = [:]
    var exceededMaximumSize = false
    let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE))

    init(request: HTTPClientRequest, configuration: CurlHTTPClientConfiguration) throws {
        guard let easy = curl_easy_init() else {
            throw CurlHTTPError(kind: .other, curlCode: nil, message: "curl_easy_init failed")
        }
        self.easy = easy
        self.maximumResponseSize = configuration.maximumResponseSize
        errorBuffer.initialize(to: 0)
        try configure(request, configuration)
    }

    deinit {
        curl_easy_cleanup(easy)
        curl_slist_free_all(headerList)
        errorBuffer.deallocate()
    }

    private func configure(_ request: HTTPClientRequest, _ configuration: CurlHTTPClientConfiguration) throws {
        try set(CURLOPT_URL, request.url)
        try set(CURLOPT_NOSIGNAL, 1)
        try set(CURLOPT_CONNECTTIMEOUT_MS, Int(configuration.connectTimeout.curlMilliseconds))
        try set(CURLOPT_TIMEOUT_MS, Int((request.timeout ?? configuration.requestTimeout).curlMilliseconds))
        try set(CURLOPT_SSL_VERIFYPEER, configuration.verifyTLS ? 1 : 0)
        try set(CURLOPT_SSL_VERIFYHOST, configuration.verifyTLS ? 2 : 0)
        if let caBundle = configuration.caBundlePath { try set(CURLOPT_CAINFO, caBundle) }
        try set(CURLOPT_USERAGENT, configuration.userAgent)
        try set(CURLOPT_ACCEPT_ENCODING, "")  // every encoding libcurl can decode
        try set(CURLOPT_PROTOCOLS_STR, "http,https")
        try check(crossbill_curl_set_pointer(easy, CURLOPT_ERRORBUFFER, errorBuffer))

        switch request.method {
        case .get: try set(CURLOPT_HTTPGET, 1)
        case .head: try set(CURLOPT_NOBODY, 1)
        default:
            let body = request.body ?? []
            try check(crossbill_curl_set_offset(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count)))
            try body.withUnsafeBytes { bytes in
                // COPYPOSTFIELDS copies the bytes, so the body need not outlive this call.
                let pointer = UnsafeMutableRawPointer(mutating: bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!)
                try check(crossbill_curl_set_pointer(easy, CURLOPT_COPYPOSTFIELDS, pointer))
            }
            try set(CURLOPT_CUSTOMREQUEST, request.method.rawValue)
        }

        // An empty "Expect:" stops libcurl from waiting for "100 Continue" before large bodies.
        var lines = ["Expect:"]
        for field in request.headers { lines.append("\(field.name.rawName): \(field.value)") }
        for line in lines { headerList = curl_slist_append(headerList, line) }
        try check(crossbill_curl_set_slist(easy, CURLOPT_HTTPHEADER, headerList))

        let userdata = Unmanaged.passUnretained(self).toOpaque()
        try check(crossbill_curl_set_data_callback(easy, CURLOPT_WRITEFUNCTION) { data, size, count, userdata in
            let transfer = Unmanaged<Transfer>.fromOpaque(userdata!).takeUnretainedValue()
            let length = size * count
            guard transfer.body.count + length <= transfer.maximumResponseSize else {
                transfer.exceededMaximumSize = true
                return 0  // aborts the transfer with CURLE_WRITE_ERROR
            }
            transfer.body.append(contentsOf: UnsafeRawBufferPointer(start: data, count: length))
            return length
        })
        try check(crossbill_curl_set_pointer(easy, CURLOPT_WRITEDATA, userdata))
        try check(crossbill_curl_set_data_callback(easy, CURLOPT_HEADERFUNCTION) { data, size, count, userdata in
            let transfer = Unmanaged<Transfer>.fromOpaque(userdata!).takeUnretainedValue()
            let length = size * count
            transfer.receivedHeaderLine(String(decoding: UnsafeRawBufferPointer(start: data, count: length), as: UTF8.self))
            return length
        })
        try check(crossbill_curl_set_pointer(easy, CURLOPT_HEADERDATA, userdata))
        try check(crossbill_curl_set_pointer(easy, CURLOPT_PRIVATE, userdata))
    }

    private func receivedHeaderLine(_ line: String) {
        if line.hasPrefix("HTTP/") {
            headers = [:]  // a new response (after "100 Continue" or an interim answer) starts over
            return
        }
        guard let colon = line.firstIndex(of: ":"), let name = HTTPField.Name(String(line[..<colon])) else { return }
        let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
        headers.append(HTTPField(name: name, value: value))
    }

    private func set(_ option: CURLoption, _ value: Int) throws {
        try check(crossbill_curl_set_long(easy, option, value))
    }

    private func set(_ option: CURLoption, _ value: String) throws {
        try check(crossbill_curl_set_string(easy, option, value))
    }

    private func check(_ code: CURLcode) throws {
        guard code == CURLE_OK else {
            throw CurlHTTPError(kind: .other, curlCode: Int32(code.rawValue), message: String(cString: curl_easy_strerror(code)))
        }
    }

    /// The outcome once libcurl finished the transfer with `code`.
    func result(_ code: CURLcode) -> Result<HTTPClientResponse, any Error> {
        guard code == CURLE_OK else {
            let detail = errorBuffer.pointee != 0 ? String(cString: errorBuffer) : String(cString: curl_easy_strerror(code))
            let kind: CurlHTTPError.Kind =
                if exceededMaximumSize { .responseTooLarge } else { CurlHTTPError.Kind(code) }
            let message = exceededMaximumSize ? "response body exceeds \(maximumResponseSize) bytes" : detail
            return .failure(CurlHTTPError(kind: kind, curlCode: Int32(code.rawValue), message: message))
        }
        var status = 0
        _ = crossbill_curl_get_long(easy, CURLINFO_RESPONSE_CODE, &status)
        return .success(HTTPClientResponse(status: HTTPResponse.Status(code: status), headers: headers, body: body))
    }
}

extension CurlHTTPError.Kind {
    init(_ code: CURLcode) {
        switch code {
        case CURLE_OPERATION_TIMEDOUT: self = .timeout
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY, CURLE_COULDNT_CONNECT, CURLE_SEND_ERROR,
            CURLE_RECV_ERROR, CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE, CURLE_HTTP2, CURLE_HTTP2_STREAM:
            self = .connection
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER,
            CURLE_SSL_CACERT_BADFILE, CURLE_SSL_ISSUER_ERROR, CURLE_SSL_PINNEDPUBKEYNOTMATCH:
            self = .tls
        default: self = .other
        }
    }
}

extension Duration {
    var curlMilliseconds: Int64 {
        let (seconds, attoseconds) = components
        return max(1, seconds * 1000 + attoseconds / 1_000_000_000_000_000)
    }
}
