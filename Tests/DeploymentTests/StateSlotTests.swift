import Foundation
import TestSupport
import Testing

/// deploy/docker/state-slot: one SQLite store per compose replica inside a shared volume.
struct StateSlotTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("state-slot-\(UUID().uuidString)")

    /// Starts state-slot with a command that prints the path it was given and then holds the slot.
    func hold(slots: Int? = nil) throws -> (process: ChildProcess, output: URL) {
        let outputURL = directory.appendingPathComponent("out-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: outputURL.path, contents: nil)
        let output = try FileHandle(forWritingTo: outputURL)
        defer { try? output.close() }
        var environment = Command.cleanEnvironment
        if let slots { environment["STATE_SLOTS"] = String(slots) }
        let process = try ChildProcess(
            executable: "/bin/sh",
            arguments: [
                Repository.url("deploy/docker/state-slot").path, directory.path, "STORE", "service.sqlite",
                "sh", "-c", "echo \"$STORE\"; exec sleep 60",
            ],
            environment: environment, standardOutput: output.fileDescriptor, standardError: nil)
        return (process, outputURL)
    }

    /// The path the held command printed, once it has.
    func path(printedTo output: URL) async throws -> String {
        for _ in 0..<100 {
            let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
            if text.hasSuffix("\n") { return text.trimmingCharacters(in: .whitespacesAndNewlines) }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw DeploymentTestError("state-slot printed nothing")
    }

    @Test("replicas get slots of their own; a freed slot is taken again; with none free it refuses")
    func slots() async throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var running: [ChildProcess] = []
        defer {
            for process in running { process.send(SIGTERM) }
            for process in running { process.waitUntilExit() }
            try? FileManager.default.removeItem(at: directory)
        }

        let first = try hold()
        running.append(first.process)
        #expect(try await path(printedTo: first.output) == directory.appendingPathComponent("slot-1/service.sqlite").path)
        let second = try hold()
        running.append(second.process)
        #expect(try await path(printedTo: second.output) == directory.appendingPathComponent("slot-2/service.sqlite").path)

        // Every slot taken: refused, and the command never runs.
        let refused = try Command.run(
            ["sh", Repository.url("deploy/docker/state-slot").path, directory.path, "STORE", "service.sqlite", "true"],
            environment: Command.cleanEnvironment.merging(["STATE_SLOTS": "2"]) { _, new in new })
        #expect(refused.status == 1)
        #expect(refused.standardError.contains("held by another process"))

        // The first replica stops (as a container would): its slot, and the store in it, go to the next.
        first.process.send(SIGTERM)
        first.process.waitUntilExit()
        let third = try hold()
        running.append(third.process)
        #expect(try await path(printedTo: third.output) == directory.appendingPathComponent("slot-1/service.sqlite").path)
    }

    @Test("a missing argument is a usage error")
    func usage() throws {
        let result = try Command.run(["sh", Repository.url("deploy/docker/state-slot").path, "/tmp", "STORE"], environment: Command.cleanEnvironment)
        #expect(result.status == 2)
        #expect(result.standardError.contains("usage"))
    }
}
