import Foundation
import Postgres
import PostgresTestSupport
import ReconcileStore
import Testing

/// `tick --check-idempotent`'s write audit counts the rows written after its horizon, from the
/// rows themselves: not what PostgreSQL's statistics report, which an idle session sends up to
/// ~10 s late.
@Suite("write audit")
struct WriteAuditTests {
    @Test("another session's writes just before the horizon are not counted, even when their statistics arrive after it")
    func writesBeforeTheHorizonAreNotCounted() async throws {
        let pool = try await TestDatabase.create(poolSize: 2)
        let key = try await Fixtures.workspace(pool)
        let other = PostgresConnection(configuration: pool.configuration)
        // Its first statement reports its statistics at once; the writes right after it are
        // held back (a session reports at most once a second).
        _ = try await other.query("SELECT 1")
        try await other.query(
            """
            INSERT INTO events (controller, key, type, reason, message, first_seen, last_seen)
            SELECT 'instances', $1::uuid, 'Normal', 'Loaded', 'row ' || n, now(), now() FROM generate_series(1, 50) n
            """, [key])
        try await other.query("UPDATE workspaces SET image = 'agent:2' WHERE id = $1::uuid", [key])
        let audit = WriteAudit(pool: pool)
        let horizon = try await audit.begin()
        // The statistics of those writes arrive now, after the horizon.
        _ = try await other.query("SELECT pg_stat_force_next_flush()")
        _ = try await other.query("SELECT 1")
        await other.close()
        #expect(try await audit.writes(since: horizon) == [:])
    }

    @Test("a deletion by a transaction still open at the horizon is waited for, not counted")
    func openTransactionAtTheHorizonIsWaitedFor() async throws {
        let pool = try await TestDatabase.create(poolSize: 2)
        let key = try await Fixtures.workspace(pool)
        try await pool.query(
            """
            INSERT INTO events (controller, key, type, reason, message, first_seen, last_seen)
            SELECT 'instances', $1::uuid, 'Normal', 'Loaded', 'row ' || n, now(), now() FROM generate_series(1, 5) n
            """, [key])
        let other = PostgresConnection(configuration: pool.configuration)
        try await other.query("BEGIN")
        try await other.query("DELETE FROM events WHERE message IN ('row 1', 'row 2')")
        let audit = WriteAudit(pool: pool)
        async let horizon = audit.begin()
        // Commits once the audit has (in all likelihood) taken its horizon and waits for it.
        try await Task.sleep(for: .milliseconds(300))
        try await other.query("COMMIT")
        await other.close()
        let writes = try await audit.writes(since: horizon)
        #expect(writes == [:], "\(writes)")
    }

    @Test("rows inserted, updated or deleted after the horizon are counted per table, whoever wrote them")
    func writesAfterTheHorizonAreCounted() async throws {
        let pool = try await TestDatabase.create(poolSize: 2)
        let key = try await Fixtures.workspace(pool)
        try await pool.query(
            """
            INSERT INTO events (controller, key, type, reason, message, first_seen, last_seen)
            SELECT 'instances', $1::uuid, 'Normal', 'Loaded', 'row ' || n, now(), now() FROM generate_series(1, 5) n
            """, [key])
        let audit = WriteAudit(pool: pool)
        let horizon = try await audit.begin()
        try await pool.query("UPDATE workspaces SET image = 'agent:2' WHERE id = $1::uuid", [key])
        try await pool.query("DELETE FROM events WHERE message IN ('row 1', 'row 2', 'row 3')")
        let writes = try await audit.writes(since: horizon)
        // The spec change also bumped the workspace's three controller rows (and their trigger
        // chains); the deleted events left no row version behind and are counted all the same.
        #expect(writes["workspaces"] == 1)
        #expect(writes["events"] == 3)
        #expect(writes["instances"] == 1 && writes["secret_bundles"] == 1 && writes["plugin_installs"] == 1)
        #expect(writes["templates"] == nil)
    }
}
