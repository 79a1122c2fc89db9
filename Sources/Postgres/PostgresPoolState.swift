/// The pool's bookkeeping, with no I/O and no suspension: `PostgresPool` performs what its
/// methods return (resume a waiter, open nothing: connections open lazily on first use).
struct PostgresPoolState {
    typealias Waiter = CheckedContinuation<PostgresConnection, any Error>

    /// Connections not lent out; invariant: empty whenever `waiters` is not.
    private(set) var idle: [PostgresConnection]
    /// Callers waiting for a connection, oldest first.
    private var waiters: [(id: Int, continuation: Waiter)] = []
    private var lastWaiterID = 0

    init(idle: [PostgresConnection]) {
        self.idle = idle
    }

    mutating func nextWaiterID() -> Int {
        lastWaiterID += 1
        return lastWaiterID
    }

    /// An idle connection, if any.
    mutating func takeIdle() -> PostgresConnection? {
        idle.popLast()
    }

    mutating func wait(id: Int, continuation: Waiter) {
        waiters.append((id, continuation))
    }

    /// Removes a waiter that gives up (deadline, cancellation) and returns it to be resumed
    /// with the reason; nil when it was served meanwhile.
    mutating func removeWaiter(id: Int) -> Waiter? {
        guard let index = waiters.firstIndex(where: { $0.id == id }) else { return nil }
        return waiters.remove(at: index).continuation
    }

    /// Takes a connection back: the oldest waiter to resume with it, or nil when it went idle.
    mutating func checkin(_ connection: PostgresConnection) -> Waiter? {
        guard !waiters.isEmpty else {
            idle.append(connection)
            return nil
        }
        return waiters.removeFirst().continuation
    }
}
