import Foundation
import Synchronization

/// A program started with `posix_spawn`, with its standard streams on the given descriptors and no
/// other descriptor of the test process, and an empty signal mask.
///
/// Foundation's `Process.run()` is not used: it finds the descriptors to close by reading
/// `/proc/self/fd` with a copy that can run past the end of its buffer, which crashed test runs now and
/// then.
public final class ChildProcess: Sendable {
    public let pid: pid_t
    /// The wait status once the program ended and was reaped.
    private let status = Mutex<Int32?>(nil)

    /// Starts `executable` with `arguments`, in `directory` if given. A standard stream given as nil is
    /// /dev/null.
    public init(
        executable: String, arguments: [String], environment: [String: String], directory: String? = nil,
        standardInput: Int32? = nil, standardOutput: Int32?, standardError: Int32?
    ) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for (stream, descriptor) in [standardInput, standardOutput, standardError].enumerated() {
            if let descriptor {
                posix_spawn_file_actions_adddup2(&actions, descriptor, Int32(stream))
            } else {
                posix_spawn_file_actions_addopen(&actions, Int32(stream), "/dev/null", stream == 0 ? O_RDONLY : O_WRONLY, 0)
            }
        }
        guard GNUSpawnActions.closeFrom(&actions, 3) == 0 else { throw ServiceProcessError("posix_spawn cannot close descriptors") }
        if let directory, GNUSpawnActions.changeDirectory(&actions, directory) != 0 {
            throw ServiceProcessError("posix_spawn cannot change to \(directory)")
        }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid = pid_t()
        let result = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard result == 0 else {
            throw ServiceProcessError("cannot start \(executable): \(String(cString: strerror(result)))")
        }
        self.pid = pid
    }

    deinit {
        // A test that failed half-way leaves nothing running, and no zombie.
        if isRunning {
            Foundation.kill(pid, SIGKILL)
            waitUntilExit()
        }
    }

    public var isRunning: Bool {
        status.withLock { status in
            guard status == nil else { return false }
            var waited: Int32 = 0
            if waitpid(pid, &waited, WNOHANG) == pid { status = waited }
            return status == nil
        }
    }

    /// Blocks until the program ends; for callers that run it to completion.
    public func waitUntilExit() {
        guard isRunning else { return }
        var waited: Int32 = 0
        var reaped: pid_t
        repeat { reaped = waitpid(pid, &waited, 0) } while reaped < 0 && errno == EINTR
        // Otherwise `isRunning`, on another thread, reaped it first and kept its status.
        if reaped == pid { status.withLock { $0 = $0 ?? waited } }
    }

    /// The exit code, or the number of the signal that ended the program; nil while it runs.
    public var terminationStatus: Int32? {
        guard !isRunning, let waited = status.withLock({ $0 }) else { return nil }
        let signal = waited & 0x7f
        return signal == 0 ? (waited >> 8) & 0xff : signal
    }

    public func send(_ signal: Int32) {
        if isRunning { Foundation.kill(pid, signal) }
    }
}

/// glibc's `posix_spawn_file_actions_addclosefrom_np` and `_addchdir_np`, which Swift's Glibc module
/// does not declare.
private enum GNUSpawnActions {
    typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    typealias ChangeDirectory = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32

    static let closeFrom: CloseFrom = function("posix_spawn_file_actions_addclosefrom_np")
    static let changeDirectory: ChangeDirectory = function("posix_spawn_file_actions_addchdir_np")

    private static func function<T>(_ name: String) -> T {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), name) else {
            fatalError("glibc has no \(name); it takes glibc 2.34 or later")
        }
        return unsafeBitCast(symbol, to: T.self)
    }
}
