import Foundation
import Synchronization

/// A program started for a test: output captured line by line, stopped by `terminate()` or `kill()`,
/// or killed at the latest when the value is released (by `ChildProcess`).
public final class ServiceProcess: Sendable {
    private let process: ChildProcess
    private let lines = LineBuffer()
    public let name: String

    /// Starts the product `name` from the build directory next to the test bundle.
    public convenience init(_ name: String, arguments: [String] = [], environment: [String: String] = [:]) throws {
        try self.init(executable: Self.executable(name), arguments: arguments, environment: environment)
    }

    /// Starts a program from the system's PATH, e.g. `openssl`.
    public static func system(_ program: String, arguments: [String]) throws -> ServiceProcess {
        try ServiceProcess(executable: URL(fileURLWithPath: "/usr/bin/env"), arguments: [program] + arguments, environment: [:])
    }

    private init(executable: URL, arguments: [String], environment: [String: String]) throws {
        self.name = executable.lastPathComponent == "env" ? arguments.first ?? "env" : executable.lastPathComponent
        var output: [Int32] = [-1, -1]
        guard pipe(&output) == 0 else { throw ServiceProcessError("cannot make a pipe for \(name): \(String(cString: strerror(errno)))") }
        let (reading, writing) = (output[0], output[1])
        defer { close(writing) }
        do {
            process = try ChildProcess(
                executable: executable.path, arguments: arguments,
                environment: ProcessInfo.processInfo.environment.merging(environment) { _, new in new },
                standardOutput: writing, standardError: writing)
        } catch {
            close(reading)
            throw error
        }
        // A thread of its own reads the output until the end, with blocking reads. A
        // `readabilityHandler` watches the pipe with a dispatch source instead, and libdispatch's
        // event loop crashed now and then in test runs that start many processes.
        // Plain read(2), retried when a signal interrupts it: `FileHandle.availableData` traps on EINTR.
        let reader = Thread { [lines] in
            defer { close(reading) }
            var buffer = [UInt8](repeating: 0, count: 64 * 1024)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(reading, $0.baseAddress, $0.count) }
                if count > 0 {
                    lines.append(Data(buffer[..<count]))
                } else if count < 0, errno == EINTR {
                    continue
                } else {
                    break
                }
            }
        }
        reader.name = "output of \(name)"
        reader.start()
    }

    public var output: [String] { lines.all }

    /// Waits for an output line containing `text`; returns that line.
    public func waitForLine(containing text: String, timeout: Duration = .seconds(30)) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let line = output.first(where: { $0.contains(text) }) { return line }
            guard process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw ServiceProcessError("\(name) printed no line containing \"\(text)\"; output:\n\(output.suffix(30).joined(separator: "\n"))")
    }

    /// Waits for the program to finish by itself; returns its exit status. Kills it when the time is up.
    public func waitForExit(timeout: Duration = .seconds(60)) async throws -> Int32 {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            guard ContinuousClock.now < deadline else {
                process.send(SIGKILL)
                throw ServiceProcessError("\(name) did not exit within \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        // The last output may still be in the pipe when the process is gone.
        try await Task.sleep(for: .milliseconds(100))
        return process.terminationStatus ?? -1
    }

    /// Sends SIGTERM and waits for the exit; returns the exit status.
    @discardableResult
    public func terminate(timeout: Duration = .seconds(20)) async throws -> Int32 {
        process.send(SIGTERM)
        return try await waitForExit(timeout: timeout)
    }

    /// Kills the process (SIGKILL) and waits for it, as a crash would end it.
    public func kill() async throws {
        process.send(SIGKILL)
        while process.isRunning { try await Task.sleep(for: .milliseconds(20)) }
    }

    private static func executable(_ name: String) throws -> URL {
        // Test bundles and products share the build directory (.build/<configuration>/).
        let runner = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var directory = URL(fileURLWithPath: runner).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory.deleteLastPathComponent()
        }
        throw ServiceProcessError("cannot find the \(name) executable near \(CommandLine.arguments[0]); run swift build first")
    }
}

public struct ServiceProcessError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Output lines of a process; a line split across reads is joined before it counts.
private final class LineBuffer: Sendable {
    private struct State {
        var lines: [String] = []
        var partial = ""
    }
    private let state = Mutex(State())

    var all: [String] { state.withLock { $0.lines } }

    func append(_ data: Data) {
        state.withLock { state in
            var text = state.partial + String(decoding: data, as: UTF8.self)
            if let lastNewline = text.lastIndex(of: "\n") {
                state.lines.append(contentsOf: text[..<lastNewline].split(separator: "\n").map(String.init))
                text = String(text[text.index(after: lastNewline)...])
            }
            state.partial = text
        }
    }
}
