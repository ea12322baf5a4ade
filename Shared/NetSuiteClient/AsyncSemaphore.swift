import Synchronization

/// A counting semaphore for tasks: `acquire()` suspends (never blocks a thread) until a permit is
/// free, and waiters get permits in the order they asked. A released permit goes straight to the
/// longest waiter, so a newcomer cannot overtake it.
final class AsyncSemaphore: Sendable {
    private struct Waiter {
        let id: UInt64
        let continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var available: Int
        var waiters: [Waiter] = []
        var nextID: UInt64 = 0
    }

    private let state: Mutex<State>

    init(permits: Int) {
        precondition(permits >= 1, "a semaphore needs at least one permit")
        state = Mutex(State(available: permits))
    }

    /// Takes a permit, waiting for one if none is free. Throws `CancellationError` when the task is
    /// cancelled while it waits; it then holds no permit.
    func acquire() async throws {
        let id: UInt64? = state.withLock { state in
            if state.available > 0, state.waiters.isEmpty {
                state.available -= 1
                return nil
            }
            state.nextID += 1
            return state.nextID
        }
        guard let id else { return }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                enum Outcome { case waiting, acquired, cancelled }
                let outcome = state.withLock { state -> Outcome in
                    // Checked under the lock: a cancellation that came before this point finds no
                    // waiter to remove, so it is handled here instead.
                    if Task.isCancelled { return .cancelled }
                    // A permit released since the first look went to the pool, not to this waiter.
                    if state.available > 0, state.waiters.isEmpty {
                        state.available -= 1
                        return .acquired
                    }
                    state.waiters.append(Waiter(id: id, continuation: continuation))
                    return .waiting
                }
                switch outcome {
                case .waiting: break
                case .acquired: continuation.resume()
                case .cancelled: continuation.resume(throwing: CancellationError())
                }
            }
        } onCancel: {
            let waiter = state.withLock { state -> Waiter? in
                guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return state.waiters.remove(at: index)
            }
            waiter?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Returns a permit: to the first waiter if there is one, else to the pool.
    func release() {
        let waiter = state.withLock { state -> Waiter? in
            if state.waiters.isEmpty {
                state.available += 1
                return nil
            }
            return state.waiters.removeFirst()
        }
        waiter?.continuation.resume()
    }
}
