import Logging
import ServiceLifecycle

/// Runs a writer's sweep on a schedule: parked commands past their deadline fail, the others are
/// tried again now and then.
public struct ParkedCommandSweeper: Service {
    /// Sleeps for `interval`; throws when graceful shutdown starts first.
    private func gracefulShutdown(after interval: Duration) async throws {
        try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
    }

    let writer: CommandWriter
    let interval: Duration
    let logger: Logger

    public init(writer: CommandWriter, interval: Duration, logger: Logger) {
        self.writer = writer
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await gracefulShutdown(after: interval)
            } catch {
                return
            }
            do {
                try await writer.sweep()
            } catch {
                logger.error("sweeping parked commands failed", metadata: ["error": "\(error)"])
            }
        }
    }
}
