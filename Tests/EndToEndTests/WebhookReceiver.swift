import Contract
import Crypto
import Foundation
import Hummingbird
import HTTPTypes
import Synchronization
import TestSupport
import Testing

/// A webhook endpoint on loopback that records every delivery and checks its signature the way a
/// receiver should: HMAC-SHA256 over `<timestamp>.<delivery id>.<raw body>` with the shared secret.
final class WebhookReceiver: Sendable {
    struct Delivery: Sendable {
        let id: String
        let timestamp: String
        let event: String
        let body: [UInt8]
        let signatureValid: Bool

        var json: JSONValue? { JSONValue.parse(body) }
    }

    let secret: String
    private let received = Mutex<[Delivery]>([])
    /// Answers for the next requests, in order; 200 when none is left.
    private let plannedStatuses: Mutex<[Int]>
    /// Requests that wait this long before they are answered (the first N requests).
    private let stalls: Mutex<Int>

    init(secret: String, failFirst statuses: [Int] = [], stallFirst stalled: Int = 0) {
        self.secret = secret
        self.plannedStatuses = Mutex(statuses)
        self.stalls = Mutex(stalled)
    }

    var deliveries: [Delivery] { received.withLock { $0 } }

    /// Runs the receiver for the duration of `body`, which gets its URL.
    func serve(_ body: @Sendable (String) async throws -> Void) async throws {
        let router = Router()
        router.post("/hook") { [self] request, _ in
            var request = request
            let bytes = Array(buffer: try await request.collectBody(upTo: 1 << 20))
            let id = request.headers[HTTPField.Name("X-Crossbill-Delivery-Id")!] ?? ""
            let timestamp = request.headers[HTTPField.Name("X-Crossbill-Timestamp")!] ?? ""
            let signature = request.headers[HTTPField.Name("X-Crossbill-Signature")!] ?? ""
            received.withLock {
                $0.append(Delivery(
                    id: id, timestamp: timestamp, event: request.headers[HTTPField.Name("X-Crossbill-Event")!] ?? "", body: bytes,
                    signatureValid: signature == expectedSignature(timestamp: timestamp, id: id, body: bytes)))
            }
            let stall = stalls.withLock { count -> Bool in
                guard count > 0 else { return false }
                count -= 1
                return true
            }
            if stall { try await Task.sleep(for: .seconds(60)) }
            let status = plannedStatuses.withLock { $0.isEmpty ? 200 : $0.removeFirst() }
            return Response(status: .init(code: status))
        }
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in continuation.yield(channel.localAddress?.port ?? 0) }, logger: quietLogger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.run() }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            try await body("http://127.0.0.1:\(port)/hook")
            group.cancelAll()
        }
    }

    private func expectedSignature(timestamp: String, id: String, body: [UInt8]) -> String {
        let code = HMAC<SHA256>.authenticationCode(for: Array("\(timestamp).\(id).".utf8) + body, using: SymmetricKey(data: Data(secret.utf8)))
        return "v1=" + code.map { String(format: "%02x", $0) }.joined()
    }

    /// Waits until `count` deliveries arrived (or the time is up) and returns them.
    func waitForDeliveries(_ count: Int, timeout: Duration = .seconds(30)) async throws -> [Delivery] {
        let deadline = ContinuousClock.now + timeout
        while deliveries.count < count, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
        }
        return deliveries
    }
}

extension JSONValue {
    /// The value at a dotted path, e.g. `accounting_provider_customer_error.provider_error.error_code`.
    func at(_ path: String) -> JSONValue? {
        var node: JSONValue? = self
        for key in path.split(separator: ".") { node = node?[String(key)] }
        return node
    }
}
