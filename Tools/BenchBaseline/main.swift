// bench-baseline: the bare Hummingbird POST endpoint that ingest's throughput is compared with.
// It reads the whole body (up to 1 MiB) and answers 200 with a small JSON body, nothing more.
import Foundation
import Hummingbird
import Logging

let arguments = CommandLine.arguments
let port = arguments.firstIndex(of: "--port").flatMap { Int(arguments[safe: $0 + 1] ?? "") } ?? 8090

extension Array {
    subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}

var logger = Logger(label: "bench-baseline")
logger.logLevel = .warning
let router = Router()
router.post("/webhooks/lago/:organization") { request, _ in
    var request = request
    _ = try await request.collectBody(upTo: 1 << 20)
    return Response(
        status: .ok,
        headers: [.contentType: "application/json"],
        body: .init(byteBuffer: ByteBuffer(string: #"{"status":"accepted"}"#))
    )
}
let app = Application(
    router: router,
    configuration: .init(address: .hostname("127.0.0.1", port: port)),
    onServerRunning: { channel in
        FileHandle.standardOutput.write(Data("listening \(channel.localAddress?.port ?? port)\n".utf8))
    },
    logger: logger
)
try await app.runService()
