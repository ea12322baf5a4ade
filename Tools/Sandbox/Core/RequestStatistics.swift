import Foundation
import Synchronization

/// What a simulated system has been asked to do, for tests, benchmarks and the demo.
public struct StatisticsSnapshot: Sendable, Codable, Equatable {
    /// API calls handled (each counts once, whatever it carries), by operation, e.g. `collections.upsert`.
    public var calls: Int
    public var callsByOperation: [String: Int]
    /// Records carried by write calls, and the most any one call carried.
    public var recordsWritten: Int
    public var maxRecordsPerCall: Int
    /// `recordsWritten / write calls`; 0 before the first write.
    public var recordsPerWriteCall: Double
    public var inFlight: Int
    /// The most requests that were being served at the same moment, rejected ones included.
    public var maxConcurrency: Int
    public var rejectedOverConcurrencyLimit: Int
    public var responsesByStatus: [String: Int]
    public var faultsInjected: [String: Int]
}

/// Counts requests as they happen; safe from any task.
public final class RequestStatistics: Sendable {
    private struct State {
        var calls = 0
        var callsByOperation: [String: Int] = [:]
        var writeCalls = 0
        var recordsWritten = 0
        var maxRecordsPerCall = 0
        var inFlight = 0
        var maxConcurrency = 0
        var rejected = 0
        var responsesByStatus: [Int: Int] = [:]
        var faultsInjected: [String: Int] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    /// Marks a request as started and returns how many are now in flight, itself included.
    public func requestStarted() -> Int {
        state.withLock {
            $0.inFlight += 1
            $0.maxConcurrency = max($0.maxConcurrency, $0.inFlight)
            return $0.inFlight
        }
    }

    public func requestFinished(status: Int) {
        state.withLock {
            $0.inFlight -= 1
            $0.responsesByStatus[status, default: 0] += 1
        }
    }

    public func rejectedOverConcurrencyLimit() {
        state.withLock { $0.rejected += 1 }
    }

    public func faultInjected(_ kind: String) {
        state.withLock { $0.faultsInjected[kind, default: 0] += 1 }
    }

    /// Records one handled API call; `recordsWritten` is nil for reads.
    public func call(_ operation: String, recordsWritten: Int? = nil) {
        state.withLock {
            $0.calls += 1
            $0.callsByOperation[operation, default: 0] += 1
            if let records = recordsWritten {
                $0.writeCalls += 1
                $0.recordsWritten += records
                $0.maxRecordsPerCall = max($0.maxRecordsPerCall, records)
            }
        }
    }

    public func snapshot() -> StatisticsSnapshot {
        state.withLock { state in
            StatisticsSnapshot(
                calls: state.calls,
                callsByOperation: state.callsByOperation,
                recordsWritten: state.recordsWritten,
                maxRecordsPerCall: state.maxRecordsPerCall,
                recordsPerWriteCall: state.writeCalls == 0 ? 0 : Double(state.recordsWritten) / Double(state.writeCalls),
                inFlight: state.inFlight,
                maxConcurrency: state.maxConcurrency,
                rejectedOverConcurrencyLimit: state.rejected,
                responsesByStatus: Dictionary(uniqueKeysWithValues: state.responsesByStatus.map { ("\($0.key)", $0.value) }),
                faultsInjected: state.faultsInjected
            )
        }
    }

    /// Zeroes every counter except the requests in flight right now.
    public func reset() {
        state.withLock { $0 = State(inFlight: $0.inFlight, maxConcurrency: $0.inFlight) }
    }
}
