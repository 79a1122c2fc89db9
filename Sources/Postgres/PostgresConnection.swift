import CLibPQ
import Dispatch

/// One PostgreSQL session. Every libpq call runs on the connection's own serial dispatch queue,
/// never on Swift's cooperative thread pool. The session is opened lazily and reopened
/// automatically on the next call after it was lost (the failed call itself reports
/// `connectionLost`; retrying is the caller's decision).
public final class PostgresConnection: @unchecked Sendable {
    // Safe: `handle` is read and written only on `queue`.
    private var handle: OpaquePointer?
    private let queue: DispatchQueue
    public let configuration: PostgresConfiguration

    public init(configuration: PostgresConfiguration) {
        self.configuration = configuration
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

    /// Runs one parameterised statement. Parameters travel as text; NULL is `nil`.
    @discardableResult
    public func query(_ sql: String, _ parameters: [(any PostgresEncodable)?] = []) async throws -> PostgresResult {
        let texts = parameters.map { $0?.postgresText }
        return try await run { try LibPQ.execute($0, sql, texts) }
    }

    /// Runs a script of several statements without parameters (the simple-query protocol).
    @discardableResult
    public func execute(script: String) async throws -> PostgresResult {
        try await run { try LibPQ.simpleExec($0, script) }
    }

    /// Runs `body` between BEGIN and COMMIT; rolls back when it throws.
    public nonisolated(nonsending) func transaction<T>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        try await execute(script: "BEGIN")
        do {
            let value = try await body(self)
            try await execute(script: "COMMIT")
            return value
        } catch {
            _ = try? await execute(script: "ROLLBACK")
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
                if let handle = self.handle { PQfinish(handle) }
                self.handle = nil
                continuation.resume()
            }
        }
    }

    private func run<T: Sendable>(_ work: @escaping @Sendable (OpaquePointer) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                continuation.resume(with: Result { try work(self.openHandle()) })
            }
        }
    }

    /// Must run on `queue`.
    private func openHandle() throws -> OpaquePointer {
        if let handle, LibPQ.isConnected(handle) { return handle }
        if let handle { PQfinish(handle) }
        handle = nil
        let fresh = try LibPQ.connect(configuration)
        handle = fresh
        return fresh
    }
}
