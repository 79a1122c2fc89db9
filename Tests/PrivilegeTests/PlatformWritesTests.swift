import Foundation
import Postgres
import PostgresTestSupport
import Testing

/// What the platform's API server does under `platform`, and that the controllers' triggers
/// still follow it.
@Suite("the platform role")
struct PlatformWritesTests {
    @Test("heartbeats, a workspace's own secrets and restart requests work and wake the controllers; nothing else does")
    func platformWrites() async throws {
        let database = try await RoleDatabase.create()
        let workspace = try await database.owner.query(
            "INSERT INTO workspaces (org, name, image) VALUES ('acme', 'w', 'img') RETURNING id::text AS id"
        ).rows[0].require(String.self, "id")
        let platform = database.pool(as: .platform)
        defer { Task { await platform.close() } }
        let heartbeat = """
            INSERT INTO workspace_runtime_status (workspace_id, instance_id, ready) VALUES ($1::uuid, 'i-1', $2)
            ON CONFLICT (workspace_id) DO UPDATE SET ready = excluded.ready, reported_at = now()
            """
        try await platform.query(heartbeat, [workspace, false])
        try await platform.query(heartbeat, [workspace, true])
        try await platform.query(
            "SELECT molecule_put_workspace_secret($1::uuid, 'OWN', 'v', true, 'workspace:' || $1)", [workspace])
        try await platform.query("UPDATE workspaces SET restart_requests = restart_requests + 1 WHERE id = $1::uuid", [workspace])
        let row = try await database.owner.query(
            """
            SELECT i.desired_generation AS instances, i.target_generation AS target, b.desired_generation AS bundles,
                   (SELECT written_by FROM workspace_secrets WHERE key = 'OWN') AS author
              FROM instances i JOIN secret_bundles b ON b.key = i.key WHERE i.key = $1::uuid
            """, [workspace]
        ).rows[0]
        #expect(try row.require(Int.self, "instances") == 4, "insert, transition and restart request each bump")
        #expect(try row.require(Int.self, "target") == 2)
        #expect(try row.require(Int.self, "bundles") >= 2)
        #expect(try row.require(String.self, "author") == "workspace:\(workspace)")

        for refused in [
            // Another author than itself or the workspace.
            "SELECT molecule_put_workspace_secret('\(workspace)'::uuid, 'FORGED', 'v', true, 'operator')",
            "INSERT INTO org_secrets (org, key, value) VALUES ('acme', 'K', 'v')",
            "UPDATE workspaces SET image = 'other'",
            "UPDATE workspaces SET phase = 'running'",
            "INSERT INTO templates (name) VALUES ('t')",
            "SELECT value FROM workspace_secrets",
            "UPDATE instances SET attempts = 0",
        ] {
            await #expect(throws: PostgresError.self, "\(refused)") { try await platform.query(refused) }
        }
    }
}
