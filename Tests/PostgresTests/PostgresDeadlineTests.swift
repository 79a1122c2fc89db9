import Foundation
import Postgres
import PostgresTestSupport
import Synchronization
import Testing

@Suite("deadlines and following the primary")
struct PostgresDeadlineTests {
    /// A statement deadline of 1 s: 500 ms server-side timeout + 500 ms margin.
    static func shortDeadline(_ configuration: PostgresConfiguration) -> PostgresConfiguration {
        var configuration = configuration
        configuration.statementTimeoutMilliseconds = 500
        configuration.statementDeadlineMarginMilliseconds = 500
        return configuration
    }

    @Test("a statement to a stopped backend fails at its deadline, and the pool goes on with a fresh session")
    func stoppedBackendTimesOut() async throws {
        let base = try await TestDatabase.create(poolSize: 1)
        let pool = PostgresPool(configuration: Self.shortDeadline(base.configuration), size: 1)
        let pid = try await pool.query("SELECT pg_backend_pid() AS pid").rows[0].require(Int32.self, "pid")
        let stopped = try StoppedBackend(pid: pid)
        defer { stopped.resume() }

        let started = ContinuousClock.now
        do {
            try await pool.query("SELECT 1")
            Issue.record("a statement to a stopped backend succeeded")
        } catch let error as PostgresError {
            #expect(error.code == .timeout)
            #expect(error.isConnectionLevel)
        }
        let failedAfter = ContinuousClock.now - started
        #expect(failedAfter >= .milliseconds(950))
        #expect(failedAfter < .seconds(3), "the 1 s deadline took \(failedAfter)")

        let reopened = ContinuousClock.now
        let fresh = try await pool.query("SELECT pg_backend_pid() AS pid").rows[0].require(Int32.self, "pid")
        let reopenedAfter = ContinuousClock.now - reopened
        #expect(fresh != pid)
        #expect(reopenedAfter < .seconds(3))
        TestDatabase.logger.info(
            "measured: stopped backend",
            metadata: [
                "timeout_after": "\(failedAfter)", "fresh_session_after": "\(reopenedAfter)",
            ])
    }

    @Test("a transaction whose session stops answering fails at the deadline, and no ROLLBACK reopens a session")
    func stoppedBackendInTransaction() async throws {
        let base = try await TestDatabase.create(poolSize: 1)
        let pool = PostgresPool(configuration: Self.shortDeadline(base.configuration), size: 1)
        let stoppedAt = Mutex<(pid: Int32, at: ContinuousClock.Instant)?>(nil)
        defer { stoppedAt.withLock { $0 }.map { StoppedBackend.resume(pid: $0.pid) } }
        let error = await #expect(throws: PostgresError.self) {
            try await pool.transaction { connection in
                let pid = try await connection.query("SELECT pg_backend_pid() AS pid").rows[0].require(Int32.self, "pid")
                _ = try StoppedBackend(pid: pid)
                stoppedAt.withLock { $0 = (pid, .now) }
                try await connection.query("SELECT 1")
            }
        }
        #expect(error?.code == .timeout)
        let stopped = try #require(stoppedAt.withLock { $0 })
        #expect(ContinuousClock.now - stopped.at < .seconds(3))
        // No ROLLBACK was sent: it would have opened a new session just to end a transaction
        // that ended with the old one.
        let others = try await base.query(
            """
            SELECT count(*) AS n FROM pg_stat_activity
             WHERE datname = current_database() AND pid NOT IN (pg_backend_pid(), $1)
            """, [Int(stopped.pid)]
        ).rows[0].require(Int.self, "n")
        #expect(others == 0)
        #expect(try await pool.query("SELECT 1 AS one").rows.count == 1)
    }

    @Test("a read-only server's refusal drops the session, so the next statement reconnects")
    func readOnlyServerDropsTheSession() async throws {
        let pool = try await TestDatabase.create(poolSize: 1)
        try await pool.query("CREATE TABLE t (v int)")
        // What a standby answers to a write: 25006 read_only_sql_transaction.
        let pid = try await pool.query(
            """
            SELECT pg_backend_pid() AS pid, set_config('default_transaction_read_only', 'on', false)
            """
        ).rows[0].require(Int32.self, "pid")
        do {
            try await pool.query("INSERT INTO t VALUES (1)")
            Issue.record("a write on a read-only session succeeded")
        } catch let error as PostgresError {
            #expect(error.code == .serverReadOnly)
            #expect(error.sqlState == "25006")
            #expect(error.isConnectionLevel)
        }
        let fresh = try await pool.query("SELECT pg_backend_pid() AS pid").rows[0].require(Int32.self, "pid")
        #expect(fresh != pid)
        try await pool.query("INSERT INTO t VALUES (2)")
    }

    @Test("a caller waiting for a pooled connection gives up at the pool's deadline")
    func checkoutTimesOut() async throws {
        // Never connects: connections open on first use, and the only one stays lent.
        let pool = PostgresPool(
            configuration: .init(conninfo: "host=/nonexistent"), size: 1,
            checkoutDeadline: .milliseconds(300))
        try await pool.withConnection { _ in
            let started = ContinuousClock.now
            let error = await #expect(throws: PostgresError.self) {
                try await pool.withConnection { _ in }
            }
            #expect(error?.code == .poolTimeout)
            let waited = ContinuousClock.now - started
            #expect(waited >= .milliseconds(290) && waited < .seconds(3))
        }
        // The lent connection came back: nobody waits for it any more.
        try await pool.withConnection { _ in }
    }

    @Test("a caller waiting for a pooled connection stops waiting when its task is cancelled")
    func checkoutIsCancellable() async throws {
        // A deadline far away: only the cancellation can end the wait within the test's time.
        let pool = PostgresPool(
            configuration: .init(conninfo: "host=/nonexistent"), size: 1,
            checkoutDeadline: .seconds(30))
        try await pool.withConnection { _ in
            let waiting = Task { try await pool.withConnection { _ in } }
            // Let it queue (if the cancellation lands first, it fails the same way).
            try await Task.sleep(for: .milliseconds(50))
            let cancelled = ContinuousClock.now
            waiting.cancel()
            await #expect(throws: CancellationError.self) { try await waiting.value }
            #expect(ContinuousClock.now - cancelled < .seconds(3))
        }
        try await pool.withConnection { _ in }
    }
}
