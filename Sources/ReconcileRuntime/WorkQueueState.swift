/// The work queue's state machine, after client-go's `workqueue.Type`. Pure: no clock, no
/// locking; `WorkQueue` wraps it.
///
/// Guarantees:
/// - Fair: keys are processed in the order they were added.
/// - Stingy: a key is queued at most once, however often it is added before it is taken.
/// - Exclusive: a key being processed is never handed out again until `done`.
/// - Not lossy: a key added while being processed is processed again after `done`.
public struct WorkQueueState<Key: Hashable & Sendable>: Sendable {
    /// Keys waiting, in order; invariant: every key here is in `dirty` and not in `processing`.
    private var queue: [Key] = []
    private var head = 0
    /// Keys that need processing (queued, or re-added while processing).
    private var dirty: Set<Key> = []
    /// Keys handed out and not yet `done`.
    private(set) var processing: Set<Key> = []
    public private(set) var isShuttingDown = false

    public init() {}

    /// Keys waiting to be taken.
    public var depth: Int { queue.count - head }

    /// Marks `key` as needing processing. Returns true when it was queued now (and a waiting
    /// worker may take it); false when it was already queued, is being processed (it will be
    /// queued again at `done`), or the queue is shutting down.
    @discardableResult
    public mutating func add(_ key: Key) -> Bool {
        guard !isShuttingDown, !dirty.contains(key) else { return false }
        dirty.insert(key)
        guard !processing.contains(key) else { return false }
        queue.append(key)
        return true
    }

    /// Takes up to `max` keys in order and marks them as being processed.
    public mutating func take(max: Int) -> [Key] {
        let count = Swift.min(max, depth)
        guard count > 0 else { return [] }
        let keys = Array(queue[head..<head + count])
        head += count
        if head > 1024, head * 2 > queue.count {
            queue.removeFirst(head)
            head = 0
        }
        for key in keys {
            dirty.remove(key)
            processing.insert(key)
        }
        return keys
    }

    /// Ends processing of `key`. Returns true when it was re-added meanwhile and is queued again.
    @discardableResult
    public mutating func done(_ key: Key) -> Bool {
        processing.remove(key)
        guard dirty.contains(key) else { return false }
        queue.append(key)
        return true
    }

    /// Stops accepting keys; workers drain what is queued and then stop.
    public mutating func shutDown() {
        isShuttingDown = true
    }
}
