import Foundation
import Postgres
import PostgresTestSupport
import ReconcileStore
import Testing

/// A session that changed one row and then fans out over the fleet (an operator's psql, the
/// platform's pooled connection, the sidecar's own sessions) must not run the fan-out with the
/// plan of the one-row change. The statement triggers join their transition tables; PL/pgSQL
/// used to keep the first plan of such a join for the session, a nested loop, so the fan-out
/// compared every old row with every new one (over 60 s for 20,000 rows, against 0.4 s).
@Suite("fan-out after a small change in the same session")
struct FanOutAfterSmallChangeTests {
    /// Quadratic at this size takes minutes; linear takes well under a second on a quiet
    /// machine, so the statement timeout below leaves a wide margin for a loaded one.
    static let fleet = 15_000
    static let timeout = "15s"

    @Test("every transition-table trigger plans its join for the rows at hand")
    func fanOutAfterSmallChange() async throws {
        let pool = try await TestDatabase.create(poolSize: 1)
        try await pool.query(
            "INSERT INTO workspaces (org, name, image) SELECT 'acme', 'w' || g, 'agent:1' FROM generate_series(1, $1) g",
            [Self.fleet])
        try await pool.query(
            """
            INSERT INTO tenants (name, hostname, tunnel_id, services)
            SELECT 't' || g, 't' || g || '.example.com', 'tunnel-1', '{"app": "http://localhost:3000"}'
              FROM generate_series(1, $1) g
            """, [Self.fleet])
        try await pool.query(
            "INSERT INTO workspace_runtime_status (workspace_id, instance_id) SELECT id, 'i-1' FROM workspaces")
        let one = try await pool.query("SELECT min(id::text) AS id FROM workspaces").rows[0].require(String.self, "id")
        let tenant = try await pool.query("SELECT min(id::text) AS id FROM tenants").rows[0].require(String.self, "id")

        let session = PostgresConnection(configuration: pool.configuration)
        defer { Task { await session.close() } }
        // The same statements, first for one row (each trigger's join is planned for a
        // one-row transition table), then for the whole fleet.
        let changes: [(name: String, sql: String, keyColumn: String, key: String)] = [
            ("a restart of every workspace", "UPDATE workspaces SET restart_requests = restart_requests + 1", "id", one),
            ("a staged bundle for every workspace", "UPDATE secret_bundles SET staged_hash = 'h-' || key", "key", one),
            ("an instance state for every workspace", "UPDATE instances SET instance_state = 'running'", "key", one),
            ("a heartbeat transition of every runtime", "UPDATE workspace_runtime_status SET ready = true", "workspace_id", one),
            (
                "a service change of every tenant", "UPDATE tenants SET services = '{\"app\": \"http://localhost:3001\"}'", "id",
                tenant
            ),
            ("an applied ingress for every tenant", "UPDATE tunnel_ingress SET applied_hash = 'a-' || key", "key", tenant),
        ]
        for change in changes {
            try await session.query("\(change.sql) WHERE \(change.keyColumn) = $1::uuid", [change.key])
        }
        let before = try await Self.lowestGenerations(pool)
        try await session.query("SET statement_timeout = '\(Self.timeout)'")
        for change in changes {
            let started = ContinuousClock.now
            do {
                try await session.query(change.sql)
            } catch {
                Issue.record("\(change.name) failed after \(ContinuousClock.now - started): \(error)")
            }
        }

        // The rewritten triggers still chain, for every row: the restart moved each instance
        // generation and made all three workspace controllers due, the staged bundle woke the
        // instance, the instance state and the heartbeat woke plugin delivery, the new instance
        // generation asked for a new bundle, and the tenant's services its ingress.
        let after = try await Self.lowestGenerations(pool)
        #expect(after["instances.target_generation"]! - before["instances.target_generation"]! == 1)
        #expect(after["instances"]! - before["instances"]! == 3)
        #expect(after["secret_bundles"]! - before["secret_bundles"]! == 2)
        #expect(after["plugin_installs"]! - before["plugin_installs"]! == 3)
        #expect(after["tunnel_ingress"]! - before["tunnel_ingress"]! == 1)

        // Deletions, one row then the rest: the keys' leases go, and every tenant's routes are
        // queued for retirement.
        for (table, key) in [("workspaces", one), ("tenants", tenant)] {
            try await session.query("DELETE FROM \(table) WHERE id = $1::uuid", [key])
            try await session.query("DELETE FROM \(table)")
        }
        let left = try await pool.query(
            "SELECT (SELECT count(*) FROM leases) AS leases, (SELECT count(*) FROM retired_ingress) AS retired"
        ).rows[0]
        #expect(try left.require(Int.self, "leases") == 0)
        #expect(try left.require(Int.self, "retired") == Self.fleet)
    }

    /// The lowest desired generation of each controller table (and target generation of
    /// `instances`): it moves only when every row's does.
    static func lowestGenerations(_ pool: PostgresPool) async throws -> [String: Int64] {
        let row = try await pool.query(
            """
            SELECT (SELECT min(target_generation) FROM instances) AS target,
                   (SELECT min(desired_generation) FROM instances) AS instances,
                   (SELECT min(desired_generation) FROM secret_bundles) AS secret_bundles,
                   (SELECT min(desired_generation) FROM plugin_installs) AS plugin_installs,
                   (SELECT min(desired_generation) FROM tunnel_ingress) AS tunnel_ingress
            """
        ).rows[0]
        return [
            "instances.target_generation": try row.require(Int64.self, "target"),
            "instances": try row.require(Int64.self, "instances"),
            "secret_bundles": try row.require(Int64.self, "secret_bundles"),
            "plugin_installs": try row.require(Int64.self, "plugin_installs"),
            "tunnel_ingress": try row.require(Int64.self, "tunnel_ingress"),
        ]
    }
}
