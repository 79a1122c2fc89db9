/// Keys waiting until a point in time, after client-go's delaying queue. Pure: the caller
/// passes the time (a `Duration` since an arbitrary origin of its clock).
///
/// A key waits at most once: adding it again keeps the earlier of the two times.
public struct DelayQueue<Key: Hashable & Sendable>: Sendable {
    private var readyAt: [Key: Duration] = [:]

    public init() {}

    public var count: Int { readyAt.count }

    /// The earliest time a key becomes ready, if any key waits.
    public var nextReadyAt: Duration? { readyAt.values.min() }

    /// Returns true when this moved the key's ready time (a new key or an earlier time).
    @discardableResult
    public mutating func add(_ key: Key, readyAt time: Duration) -> Bool {
        if let existing = readyAt[key], existing <= time { return false }
        readyAt[key] = time
        return true
    }

    /// Removes and returns the keys whose time has come, earliest first.
    public mutating func popReady(now: Duration) -> [Key] {
        let ready = readyAt.filter { $0.value <= now }.sorted { $0.value < $1.value }
        for (key, _) in ready { readyAt.removeValue(forKey: key) }
        return ready.map(\.key)
    }
}
