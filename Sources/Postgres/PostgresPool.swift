import Synchronization

/// A fixed-size pool of lazily opened connections.
///
/// - Fair: waiters are served in arrival order.
/// - Exclusive: a connection is lent to one caller at a time.
/// - Self-healing: a connection whose session died reopens on its next use.
public final class PostgresPool: Sendable {
    private struct State {
        /// Connections not lent out; invariant: empty whenever `waiters` is not.
        var idle: [PostgresConnection]
        var waiters: [CheckedContinuation<PostgresConnection, Never>] = []
    }

    public let configuration: PostgresConfiguration
    public let size: Int
    private let state: Mutex<State>

    /// - Parameter size: how many sessions at most; default 4.
    public init(configuration: PostgresConfiguration, size: Int = 4) {
        precondition(size > 0, "a pool needs at least one connection")
        self.configuration = configuration
        self.size = size
        self.state = Mutex(State(idle: (0..<size).map { _ in PostgresConnection(configuration: configuration) }))
    }

    /// Lends a connection to `body` and takes it back afterwards, whatever happens.
    public nonisolated(nonsending) func withConnection<T>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        let connection = await checkout()
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

    func checkout() async -> PostgresConnection {
        if let connection = state.withLock({ $0.idle.popLast() }) { return connection }
        return await withCheckedContinuation { continuation in
            let ready: PostgresConnection? = state.withLock { state in
                if let connection = state.idle.popLast() { return connection }
                state.waiters.append(continuation)
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    func checkin(_ connection: PostgresConnection) {
        let waiter: CheckedContinuation<PostgresConnection, Never>? = state.withLock { state in
            if state.waiters.isEmpty {
                state.idle.append(connection)
                return nil
            }
            return state.waiters.removeFirst()
        }
        waiter?.resume(returning: connection)
    }
}

extension PostgresPool {
    /// Runs `body` once on every connection of the pool (waiting until each is free).
    public func forEachConnection(_ body: @Sendable (PostgresConnection) async throws -> Void) async throws {
        var lent: [PostgresConnection] = []
        for _ in 0..<size { lent.append(await checkout()) }
        defer { lent.forEach(checkin) }
        for connection in lent { try await body(connection) }
    }
}
