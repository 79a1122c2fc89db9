import Dispatch
import Synchronization

/// A fixed-size pool of lazily opened connections.
///
/// - Fair: waiters are served in arrival order.
/// - Exclusive: a connection is lent to one caller at a time.
/// - Bounded: a waiter gives up after `checkoutDeadline` (`.poolTimeout`) or when its task is
///   cancelled (`CancellationError`).
/// - Self-healing: a connection that lost its session (`isBroken`: lost, timed out, read-only
///   server) is never lent again; a fresh one takes its place and connects on first use, through
///   the conninfo's host list.
public final class PostgresPool: Sendable {
    public let configuration: PostgresConfiguration
    public let size: Int
    /// How long a caller waits for a free connection.
    public let checkoutDeadline: Duration
    /// The server history every session of the pool saw when it opened, and its changes.
    public let history = ServerHistoryWatch()
    private let state: Mutex<PostgresPoolState>
    /// Every connection of the pool, lent or idle (for `abandonSessions()`).
    private let members: Mutex<[PostgresConnection]>

    /// - Parameters:
    ///   - size: how many sessions at most; default 4.
    ///   - checkoutDeadline: how long a caller waits for a free connection; default 30 s.
    public init(configuration: PostgresConfiguration, size: Int = 4, checkoutDeadline: Duration = .seconds(30)) {
        precondition(size > 0, "a pool needs at least one connection")
        self.configuration = configuration
        self.size = size
        self.checkoutDeadline = checkoutDeadline
        let history = self.history
        let connections = (0..<size).map { _ in PostgresConnection(configuration: configuration, history: history) }
        self.state = Mutex(PostgresPoolState(idle: connections))
        self.members = Mutex(connections)
    }

    /// Lends a connection to `body` and takes it back afterwards, whatever happens.
    public nonisolated(nonsending) func withConnection<T>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        let connection = try await checkout()
        defer { checkin(connection) }
        return try await body(connection)
    }

    /// Runs `body` in a transaction on one connection.
    public nonisolated(nonsending) func transaction<T>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        try await withConnection { connection in
            try await connection.transaction(body)
        }
    }

    /// One statement on any free connection.
    @discardableResult
    public func query(_ sql: String, _ parameters: [(any PostgresEncodable)?] = []) async throws -> PostgresResult {
        try await withConnection { try await $0.query(sql, parameters) }
    }

    /// Closes every idle session (lent ones close when their owner is done with the pool).
    public func close() async {
        let idle = state.withLock { $0.idle }
        for connection in idle { await connection.close() }
    }

    func checkout() async throws -> PostgresConnection {
        if let connection = state.withLock({ $0.takeIdle() }) {
            PostgresMetrics.poolWait.recordNanoseconds(0)
            return connection
        }
        let started = ContinuousClock.now
        do {
            let connection = try await waitForConnection()
            PostgresMetrics.poolWait.recordNanoseconds(Self.nanoseconds(ContinuousClock.now - started))
            return connection
        } catch {
            PostgresMetrics.poolWait.recordNanoseconds(Self.nanoseconds(ContinuousClock.now - started))
            PostgresMetrics.record(error)
            throw error
        }
    }

    private static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }

    /// Waits in line for a connection (none is idle).
    private func waitForConnection() async throws -> PostgresConnection {
        let id = state.withLock { $0.nextWaiterID() }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let outcome: Result<PostgresConnection, any Error>? = state.withLock { state in
                    if let connection = state.takeIdle() { return .success(connection) }
                    // Checked under the lock: a cancellation after this point finds the waiter.
                    if Task.isCancelled { return .failure(CancellationError()) }
                    state.wait(id: id, continuation: continuation)
                    return nil
                }
                if let outcome {
                    continuation.resume(with: outcome)
                    return
                }
                let deadline = checkoutDeadline
                DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(Int(deadline / .milliseconds(1)))) {
                    [weak self] in
                    self?.giveUp(
                        waiter: id,
                        PostgresError(
                            code: .poolTimeout, message: "no pooled PostgreSQL connection became free within \(deadline)"))
                }
            }
        } onCancel: {
            giveUp(waiter: id, CancellationError())
        }
    }

    /// Cuts every session of the pool, lent or idle (`PostgresConnection.abandon()`): for a
    /// server that stopped answering, so that statements waiting on it fail now rather than at
    /// their deadline, and their callers' next sessions go through the host list.
    public func abandonSessions() {
        for connection in members.withLock({ $0 }) { connection.abandon() }
    }

    func checkin(_ connection: PostgresConnection) {
        var usable = connection
        if connection.isBroken {
            usable = PostgresConnection(configuration: configuration, history: history)
            members.withLock { members in
                if let index = members.firstIndex(where: { $0 === connection }) { members[index] = usable }
            }
        }
        state.withLock { $0.checkin(usable) }?.resume(returning: usable)
    }

    private func giveUp(waiter id: Int, _ reason: any Error) {
        state.withLock { $0.removeWaiter(id: id) }?.resume(throwing: reason)
    }
}
