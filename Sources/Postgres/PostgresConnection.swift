import CLibPQ
import Dispatch
import Foundation
import Synchronization

/// One PostgreSQL session. Every libpq call runs on the connection's own serial dispatch queue,
/// never on Swift's cooperative thread pool, and waits no longer than its deadline
/// (`PostgresConfiguration`). The session is opened lazily; a call that fails with a
/// connection-level error (`PostgresError.isConnectionLevel`: lost, timed out, read-only server)
/// drops it and reports the error, and the next call opens a new one through the conninfo's
/// host list (retrying is the caller's decision).
public final class PostgresConnection: @unchecked Sendable {
    // Safe: `handle` and `prepared` are read and written only on `queue`; `broken` is atomic.
    private var handle: OpaquePointer?
    /// Statements prepared on the current session: SQL text -> statement name. Statements with
    /// parameters are the ones run once per key or per batch; preparing them once per session
    /// spares PostgreSQL parsing and planning them every time (it spent more time planning the
    /// controllers' reads than executing them). Emptied with every new session.
    private var prepared: [String: String] = [:]
    /// At most this many statements are kept prepared per session; further ones run unprepared.
    private static let preparedLimit = 256
    private let queue: DispatchQueue
    private let broken = Atomic<Bool>(false)
    /// The open session's socket, for `abandon()` from another thread; cleared under the lock
    /// before the session is finished, so that `abandon()` never shuts down a reused descriptor.
    private let socket = Mutex<Int32?>(nil)
    /// Set by `abandon()`: the next call opens a new session.
    private let abandoned = Atomic<Bool>(false)
    public let configuration: PostgresConfiguration
    /// Told the server history of every new session (a pool's connections share one).
    let history: ServerHistoryWatch?

    public init(configuration: PostgresConfiguration, history: ServerHistoryWatch? = nil) {
        self.configuration = configuration
        self.history = history
        self.queue = DispatchQueue(label: "molecule.postgres.connection")
    }

    deinit {
        if let handle { PQfinish(handle) }
    }

    /// Opens a connection now, so that configuration errors surface at once.
    public static func connect(_ configuration: PostgresConfiguration) async throws -> PostgresConnection {
        let connection = PostgresConnection(configuration: configuration)
        try await connection.run { _ in }
        return connection
    }

    /// Whether the last call lost the session (a connection-level error) and no new one has
    /// been opened since: a pool lends such a connection no more and puts a fresh one in its place.
    public var isBroken: Bool { broken.load(ordering: .relaxed) }

    /// Runs one parameterised statement. Parameters travel as text; NULL is `nil`.
    @discardableResult
    public func query(_ sql: String, _ parameters: [(any PostgresEncodable)?] = []) async throws -> PostgresResult {
        let texts = parameters.map { $0?.postgresText }
        let timeout = configuration.statementDeadline
        guard configuration.preparesStatements, !texts.isEmpty else {
            return try await run { try LibPQ.execute($0, sql, texts, timeout: timeout) }
        }
        return try await run { session in try self.executePrepared(session, sql, texts, timeout: timeout) }
    }

    /// Must run on `queue`. Prepares `sql` on first use in this session, then runs it.
    private func executePrepared(
        _ session: OpaquePointer, _ sql: String, _ parameters: [String?],
        timeout: Duration
    ) throws -> PostgresResult {
        if let name = prepared[sql] {
            return try LibPQ.executePrepared(session, name: name, parameters, timeout: timeout)
        }
        guard prepared.count < Self.preparedLimit else { return try LibPQ.execute(session, sql, parameters, timeout: timeout) }
        let name = "molecule_\(prepared.count + 1)"
        try LibPQ.prepare(session, name: name, sql, parameterCount: parameters.count, timeout: timeout)
        prepared[sql] = name
        return try LibPQ.executePrepared(session, name: name, parameters, timeout: timeout)
    }

    /// Runs a script of several statements without parameters (the simple-query protocol).
    @discardableResult
    public func execute(script: String) async throws -> PostgresResult {
        let timeout = configuration.statementDeadline
        return try await run { try LibPQ.simpleExec($0, script, timeout: timeout) }
    }

    /// Runs `body` between BEGIN and COMMIT; rolls back when it throws (a lost session needs no
    /// ROLLBACK: the server ends the transaction with it).
    public nonisolated(nonsending) func transaction<T>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        try await execute(script: "BEGIN")
        do {
            let value = try await body(self)
            try await execute(script: "COMMIT")
            return value
        } catch {
            if !isBroken { _ = try? await execute(script: "ROLLBACK") }
            throw error
        }
    }

    /// The server process id of the open session, if any (for `pg_terminate_backend` in tests).
    public func backendPID() async throws -> Int32 {
        try await run { PQbackendPID($0) }
    }

    /// Closes the session; the next call opens a new one.
    public func close() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            queue.async {
                self.finishSession(cancelling: false)
                continuation.resume()
            }
        }
    }

    /// Cuts the session from any thread, for a server known to have stopped answering: a
    /// statement waiting on it fails at once as a lost session (`.connectionLost`), and the
    /// next call opens a new session through the host list instead of waiting out its deadline.
    public func abandon() {
        abandoned.store(true, ordering: .relaxed)
        socket.withLock { socket in
            if let socket { _ = shutdown(socket, Int32(SHUT_RDWR)) }
        }
    }

    /// Must run on `queue`. Finishes the session, if any.
    private func finishSession(cancelling: Bool) {
        guard let handle else { return }
        socket.withLock { $0 = nil }
        LibPQ.drop(handle, cancelling: cancelling)
        self.handle = nil
        prepared = [:]
    }

    private func run<T: Sendable>(_ work: @escaping @Sendable (OpaquePointer) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                continuation.resume(with: Result { try self.perform(work) })
            }
        }
    }

    /// Must run on `queue`.
    private func perform<T>(_ work: (OpaquePointer) throws -> T) throws -> T {
        let session: OpaquePointer
        do {
            session = try openHandle()
        } catch {
            PostgresMetrics.record(error)
            throw error
        }
        do {
            return try work(session)
        } catch let error as PostgresError where error.isConnectionLevel {
            // A statement may still run on a server that stopped answering: ask it to stop.
            finishSession(cancelling: error.code == .timeout)
            broken.store(true, ordering: .relaxed)
            PostgresMetrics.reconnects.increment()
            PostgresMetrics.record(error)
            throw error
        } catch {
            PostgresMetrics.record(error)
            throw error
        }
    }

    /// Must run on `queue`.
    private func openHandle() throws -> OpaquePointer {
        if let handle, LibPQ.isConnected(handle), !abandoned.load(ordering: .relaxed) { return handle }
        if handle != nil { PostgresMetrics.reconnects.increment() }
        finishSession(cancelling: false)
        abandoned.store(false, ordering: .relaxed)
        do {
            let fresh = try LibPQ.connect(configuration, setupTimeout: configuration.statementDeadline)
            if let history {
                do {
                    try LibPQ.readHistory(fresh, into: history, timeout: configuration.statementDeadline)
                } catch {
                    LibPQ.drop(fresh, cancelling: (error as? PostgresError)?.code == .timeout)
                    throw error
                }
            }
            handle = fresh
            socket.withLock { $0 = PQsocket(fresh) }
            prepared = [:]
            broken.store(false, ordering: .relaxed)
            PostgresMetrics.sessionsOpened.increment()
            return fresh
        } catch {
            broken.store(true, ordering: .relaxed)
            PostgresMetrics.connectFailures.increment()
            throw error
        }
    }
}
