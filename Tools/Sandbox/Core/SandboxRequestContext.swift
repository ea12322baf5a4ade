import Hummingbird
import Logging
import NIOCore

/// Hummingbird's basic context plus the connection, which fault injection closes to simulate a
/// dropped connection.
public struct SandboxRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }

    /// Simulated API bodies (a 200-record collection, a big invoice) are larger than Hummingbird's default.
    public var maxUploadSize: Int { 16 * 1024 * 1024 }
}
