import CCurl
import Foundation
import Synchronization

/// Drives libcurl's multi interface on its own thread. Other threads hand it transfers and
/// cancellations through a locked inbox and wake it with `curl_multi_wakeup`.
final class CurlEngine: Sendable {
    /// `curl_global_init` must run once per process, before any other libcurl call.
    static let initializeLibrary: Void = { _ = curl_global_init(Int(CURL_GLOBAL_ALL)) }()

    private struct Inbox {
        var submitted: [Transfer] = []
        var cancelled: Set<UInt64> = []
        var stopping = false
    }

    private struct MultiHandle: @unchecked Sendable {
        // @unchecked: used only on the engine thread, except curl_multi_wakeup, which is thread-safe.
        let pointer: UnsafeMutableRawPointer
    }

    private let multi: MultiHandle
    private let inbox = Mutex(Inbox())
    private let running = Atomic<Bool>(false)
    private let exited = DispatchSemaphore(value: 0)

    init(configuration: CurlHTTPClientConfiguration) {
        let multi = curl_multi_init()!
        _ = crossbill_curl_multi_set_long(multi, CURLMOPT_MAX_HOST_CONNECTIONS, configuration.maximumConnectionsPerHost)
        _ = crossbill_curl_multi_set_long(multi, CURLMOPT_MAXCONNECTS, configuration.maximumConnectionsPerHost * 4)
        self.multi = MultiHandle(pointer: multi)
    }

    deinit {
        curl_multi_cleanup(multi.pointer)
    }

    func start() {
        running.store(true, ordering: .releasing)
        let thread = Thread { [self] in
            Thread.current.name = "curl-engine"
            loop()
            exited.signal()
        }
        thread.start()
    }

    func submit(_ transfer: Transfer) {
        let accepted = inbox.withLock { inbox in
            guard !inbox.stopping else { return false }
            inbox.submitted.append(transfer)
            return true
        }
        guard accepted else {
            finish(transfer, with: .failure(CurlHTTPError(kind: .shutdown, curlCode: nil, message: "the HTTP client is shut down")))
            return
        }
        curl_multi_wakeup(multi.pointer)
    }

    func cancel(_ id: UInt64) {
        inbox.withLock { _ = $0.cancelled.insert(id) }
        curl_multi_wakeup(multi.pointer)
    }

    /// Stops the thread; transfers in flight fail with `.shutdown`.
    func stop() {
        inbox.withLock { $0.stopping = true }
        guard running.exchange(false, ordering: .acquiringAndReleasing) else { return }
        curl_multi_wakeup(multi.pointer)
        exited.wait()
    }

    private func loop() {
        var active: [UInt64: Transfer] = [:]
        while running.load(ordering: .acquiring) {
            let (submitted, cancelled) = inbox.withLock { inbox in
                defer { inbox.submitted = []; inbox.cancelled = [] }
                return (inbox.submitted, inbox.cancelled)
            }
            for transfer in submitted {
                if cancelled.contains(transfer.id) {
                    finish(transfer, with: .failure(CancellationError()))
                    continue
                }
                active[transfer.id] = transfer
                curl_multi_add_handle(multi.pointer, transfer.easy)
            }
            for id in cancelled {
                guard let transfer = active.removeValue(forKey: id) else { continue }
                curl_multi_remove_handle(multi.pointer, transfer.easy)
                finish(transfer, with: .failure(CancellationError()))
            }

            var stillRunning: Int32 = 0
            curl_multi_perform(multi.pointer, &stillRunning)
            var remaining: Int32 = 0
            while let message = curl_multi_info_read(multi.pointer, &remaining) {
                guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle else { continue }
                var userdata: UnsafeMutableRawPointer?
                _ = crossbill_curl_get_pointer(easy, CURLINFO_PRIVATE, &userdata)
                let transfer = Unmanaged<Transfer>.fromOpaque(userdata!).takeUnretainedValue()
                let code = message.pointee.data.result
                curl_multi_remove_handle(multi.pointer, easy)
                active[transfer.id] = nil
                finish(transfer, with: transfer.result(code))
            }
            curl_multi_poll(multi.pointer, nil, 0, 1000, nil)
        }
        // Shutting down: fail whatever was in flight or still waiting in the inbox.
        let waiting = inbox.withLock { inbox in
            defer { inbox.submitted = [] }
            return inbox.submitted
        }
        for transfer in Array(active.values) + waiting {
            curl_multi_remove_handle(multi.pointer, transfer.easy)
            finish(transfer, with: .failure(CurlHTTPError(kind: .shutdown, curlCode: nil, message: "the HTTP client shut down")))
        }
    }

    private func finish(_ transfer: Transfer, with result: Result<HTTPClientResponse, any Error>) {
        let continuation = transfer.continuation
        transfer.continuation = nil
        continuation?.resume(with: result)
    }
}
