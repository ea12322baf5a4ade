import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// One child process of the benchmark, its output in a log file.
final class StackProcess: @unchecked Sendable {
    // @unchecked: `process` is configured before it starts and only read afterwards.
    let name: String
    let logFile: URL
    private let process = Process()

    init(_ name: String, executable: URL, arguments: [String] = [], environment: [String: String] = [:], logDirectory: URL) throws {
        self.name = name
        self.logFile = logDirectory.appendingPathComponent("\(name).log")
        guard FileManager.default.createFile(atPath: logFile.path, contents: nil) else {
            throw BenchError("cannot create \(logFile.path)")
        }
        let log = try FileHandle(forWritingTo: logFile)
        process.executableURL = executable
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        process.standardOutput = log
        process.standardError = log
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }

    func cpuSeconds() -> Double? { ProcessStatistics.cpuSeconds(of: pid) }

    func memory() -> (resident: Double, peak: Double)? { ProcessStatistics.memory(of: pid) }

    /// Sends SIGTERM and waits up to `timeout` for the exit, then SIGKILL.
    func stop(timeout: Duration = .seconds(15)) async {
        guard process.isRunning else { return }
        process.terminate()
        let deadline = ContinuousClock.now + timeout
        while process.isRunning, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
        if process.isRunning { kill(pid, SIGKILL) }
    }
}

/// CPU time and memory of processes and of the whole machine, from `/proc`.
enum ProcessStatistics {
    private static let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))

    /// CPU seconds (user + system) the process used so far.
    static func cpuSeconds(of pid: Int32) -> Double? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let end = stat.lastIndex(of: ")")
        else { return nil }
        // Fields after the command name; utime and stime are fields 14 and 15 of the whole line.
        let fields = stat[stat.index(after: end)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / ticksPerSecond
    }

    /// Resident memory now (`VmRSS`) and at its peak (`VmHWM`), in MiB.
    static func memory(of pid: Int32) -> (resident: Double, peak: Double)? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        func kibibytes(_ key: String) -> Double? {
            status.split(separator: "\n").first { $0.hasPrefix(key) }
                .flatMap { Double($0.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") }
        }
        guard let resident = kibibytes("VmRSS:"), let peak = kibibytes("VmHWM:") else { return nil }
        return (resident / 1024, peak / 1024)
    }

    /// CPU seconds all cores spent busy so far, whichever process ran: every state of the `cpu` line
    /// of `/proc/stat` but idle and iowait.
    static func machineBusySeconds() -> Double? {
        guard let stat = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
            let line = stat.split(separator: "\n").first(where: { $0.hasPrefix("cpu ") })
        else { return nil }
        // user nice system idle iowait irq softirq steal (guest time is already inside user).
        let ticks = line.split(separator: " ").dropFirst().prefix(8).compactMap { Double($0) }
        guard ticks.count == 8 else { return nil }
        return (ticks.reduce(0, +) - ticks[3] - ticks[4]) / ticksPerSecond
    }
}

enum LocalPorts {
    /// A TCP port on loopback that nothing listens on right now.
    static func free() throws -> Int {
        let socketFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socketFD >= 0 else { throw BenchError("cannot open a socket") }
        defer { close(socketFD) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                bind(socketFD, socketAddress, length) == 0 && getsockname(socketFD, socketAddress, &length) == 0
            }
        }
        guard bound else { throw BenchError("cannot bind a free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Waits until `file` exists and is not empty (or the time is up), then returns its contents.
func waitForFile(_ file: URL, timeout: Duration = .seconds(20)) async throws -> String {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if let text = try? String(contentsOf: file, encoding: .utf8), !text.isEmpty { return text }
        try await Task.sleep(for: .milliseconds(50))
    }
    throw BenchError("\(file.path) did not appear within \(timeout)")
}
