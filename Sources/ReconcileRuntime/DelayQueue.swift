/// Keys waiting until a point in time, after client-go's delaying queue (a heap of waiting
/// entries beside a map of each key's time). Pure: the caller passes the time (a `Duration`
/// since an arbitrary origin of its clock).
///
/// - A key waits at most once: adding it again keeps the earlier of the two times.
/// - Cost does not grow with the number of waiting keys beyond a logarithm: adding a key and
///   taking a ready one are O(log n), the next ready time is O(1). (Every converged key of a
///   fleet waits here for its next look, so a scan per wake-up would be paid per key.)
public struct DelayQueue<Key: Hashable & Sendable>: Sendable {
    private struct Entry: Sendable {
        var time: Duration
        var key: Key
    }

    /// The truth: each waiting key's ready time.
    private var readyAt: [Key: Duration] = [:]
    /// A min-heap by time of entries. An entry whose time is not its key's `readyAt` (the key
    /// was moved earlier, or taken) is stale. Invariant: the top is never stale, so it is the
    /// earliest waiting key.
    private var heap: [Entry] = []

    public init() {}

    public var count: Int { readyAt.count }

    /// The earliest time a key becomes ready, if any key waits.
    public var nextReadyAt: Duration? { heap.first?.time }

    /// Returns true when this moved the key's ready time (a new key or an earlier time).
    @discardableResult
    public mutating func add(_ key: Key, readyAt time: Duration) -> Bool {
        if let existing = readyAt[key], existing <= time { return false }
        readyAt[key] = time
        push(Entry(time: time, key: key))
        compactIfMostlyStale()
        return true
    }

    /// Removes and returns the keys whose time has come, earliest first.
    public mutating func popReady(now: Duration) -> [Key] {
        var ready: [Key] = []
        while let top = heap.first, top.time <= now {
            popTop()
            readyAt.removeValue(forKey: top.key)
            ready.append(top.key)
            dropStaleTop()
        }
        return ready
    }

    private func isLive(_ entry: Entry) -> Bool { readyAt[entry.key] == entry.time }

    private mutating func dropStaleTop() {
        while let top = heap.first, !isLive(top) { popTop() }
    }

    /// Stale entries are left behind by keys moved earlier; rebuild once they are most of the heap.
    private mutating func compactIfMostlyStale() {
        guard heap.count > 64, heap.count > 2 * readyAt.count else { return }
        heap = readyAt.map { Entry(time: $0.value, key: $0.key) }
        for index in stride(from: heap.count / 2 - 1, through: 0, by: -1) { siftDown(index) }
    }

    private mutating func push(_ entry: Entry) {
        heap.append(entry)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].time < heap[parent].time else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    private mutating func popTop() {
        let last = heap.removeLast()
        guard !heap.isEmpty else { return }
        heap[0] = last
        siftDown(0)
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1
            guard left < heap.count else { return }
            var smallest = left
            if left + 1 < heap.count, heap[left + 1].time < heap[left].time { smallest = left + 1 }
            guard heap[smallest].time < heap[parent].time else { return }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
