/// Tracks, per assigned partition, which handed-out messages are done, so that only the contiguous
/// prefix of done messages is committed. A message marked done out of order waits for the ones before
/// it: a crash then replays them instead of skipping them.
struct OffsetTracker: Sendable {
    private struct Progress {
        /// Offsets handed out, ascending; `pending[head...]` are not yet committed.
        var pending: [Int64] = []
        var head = 0
        var done: Set<Int64> = []
    }

    private var partitions: [TopicPartition: Progress] = [:]

    mutating func assign(_ assigned: [TopicPartition]) {
        for partition in assigned { partitions[partition] = Progress() }
    }

    mutating func revoke(_ revoked: [TopicPartition]) {
        for partition in revoked { partitions[partition] = nil }
    }

    /// Records that a message was handed out. Messages of partitions not assigned are not tracked.
    mutating func received(_ partition: TopicPartition, offset: Int64) {
        partitions[partition]?.pending.append(offset)
    }

    /// Marks a message done; returns the next offset to commit when the done prefix grew.
    mutating func markDone(_ partition: TopicPartition, offset: Int64) -> Int64? {
        guard var progress = partitions[partition] else { return nil }
        progress.done.insert(offset)
        var committable: Int64?
        while progress.head < progress.pending.count, progress.done.remove(progress.pending[progress.head]) != nil {
            committable = progress.pending[progress.head] + 1
            progress.head += 1
        }
        if progress.head > 4096 {
            progress.pending.removeFirst(progress.head)
            progress.head = 0
        }
        partitions[partition] = progress
        return committable
    }
}
