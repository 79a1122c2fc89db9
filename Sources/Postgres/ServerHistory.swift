import Synchronization

/// Which history of which cluster a session talks to: the cluster's system identifier (kept by
/// a standby made with `pg_basebackup`, new after `initdb` or a logical copy) and the timeline
/// (+1 at every promotion and every point-in-time recovery). Two sessions with the same history
/// see the same past; a session on another one may see a past in which acknowledged writes
/// never happened (an asynchronous standby promoted before it received them).
public struct ServerHistory: Sendable, Equatable, CustomStringConvertible {
    public var systemIdentifier: String
    public var timeline: Int

    public init(systemIdentifier: String, timeline: Int) {
        self.systemIdentifier = systemIdentifier
        self.timeline = timeline
    }

    public var description: String { "system \(systemIdentifier), timeline \(timeline)" }

    /// Read on every new session. Callable by any role (the `pg_control_*` functions and
    /// `pg_walfile_name` need no privilege). On a primary the timeline is the one WAL is written
    /// on now (from the current WAL file's name): right after a promotion the last checkpoint
    /// still names the old one.
    static let query = """
        SELECT s.system_identifier::text AS system_id,
               CASE WHEN pg_is_in_recovery() THEN c.timeline_id
                    ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int END AS timeline
          FROM pg_control_system() s, pg_control_checkpoint() c
        """
}

/// What every session of a pool and its listener saw when it opened, and when that changed:
/// a reconnect that lands on another server history (a failover, a switchover, a restore) is a
/// `Change`, recorded before the new session runs any statement.
///
/// - The first history seen is no change.
/// - `changes()` delivers every change to one consumer, in order, never blocking the session.
/// - A server that cannot say its history (a role or a pooler that refuses the query) leaves
///   the history unknown: nothing is reported, and `unavailableReason` says why.
public final class ServerHistoryWatch: Sendable {
    public struct Change: Sendable, Equatable {
        public var from: ServerHistory
        public var to: ServerHistory
        /// 1 for the first change seen by this process, then 2...
        public var number: Int
        public var at: ContinuousClock.Instant

        /// Another cluster altogether, not a later timeline of the same one.
        public var isAnotherCluster: Bool { from.systemIdentifier != to.systemIdentifier }
    }

    private struct State {
        var current: ServerHistory?
        var lastChange: Change?
        var unavailableReason: String?
    }

    private let state = Mutex(State())
    private let stream: AsyncStream<Change>
    private let continuation: AsyncStream<Change>.Continuation

    public init() {
        (stream, continuation) = AsyncStream.makeStream(of: Change.self, bufferingPolicy: .unbounded)
    }

    /// The history of the newest session; nil before the first or when the server cannot say.
    public var current: ServerHistory? { state.withLock { $0.current } }
    /// The last change seen, if any.
    public var lastChange: Change? { state.withLock { $0.lastChange } }
    /// Why the history could not be read, if it could not.
    public var unavailableReason: String? { state.withLock { $0.unavailableReason } }

    /// Every change, in order (one consumer).
    public func changes() -> AsyncStream<Change> { stream }

    /// Records what a new session saw; returns the change it makes, if any.
    @discardableResult
    public func observe(_ history: ServerHistory) -> Change? {
        state.withLock { state in
            state.unavailableReason = nil
            defer { state.current = history }
            guard let previous = state.current, previous != history else { return nil }
            let change = Change(
                from: previous, to: history, number: (state.lastChange?.number ?? 0) + 1, at: .now)
            state.lastChange = change
            // Under the lock, so that changes seen by two sessions at once arrive in order.
            continuation.yield(change)
            return change
        }
    }

    func unavailable(_ reason: String) {
        state.withLock { $0.unavailableReason = reason }
    }
}
