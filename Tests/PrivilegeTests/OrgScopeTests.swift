import Foundation
import Postgres
import PostgresTestSupport
import Testing

/// A role listed in org_scopes sees and changes only its orgs' rows, in every spec, status,
/// secret and event table; an unscoped role sees them all.
@Suite("org-scoped operators")
struct OrgScopeTests {
    struct World {
        var acme: (workspace: String, tenant: String)
        var globex: (workspace: String, tenant: String)
    }

    /// Two orgs with a workspace, a tenant, secrets, a declared plugin, a heartbeat and events each.
    static func twoOrgs(_ owner: PostgresPool) async throws -> World {
        var keys: [String: (String, String)] = [:]
        for org in ["acme", "globex"] {
            let workspace = try await owner.query(
                "INSERT INTO workspaces (org, name, image) VALUES ($1, 'agent', 'img') RETURNING id::text AS id", [org]
            ).rows[0].require(String.self, "id")
            let tenant = try await owner.query(
                """
                INSERT INTO tenants (name, org, hostname, tunnel_id, services)
                VALUES ($1, $1, $1 || '.example.com', 'tunnel-' || $1, '{"app": "http://127.0.0.1:3000"}')
                RETURNING id::text AS id
                """, [org]
            ).rows[0].require(String.self, "id")
            try await owner.query("INSERT INTO org_secrets (org, key, value) VALUES ($1, 'K', 'v')", [org])
            try await owner.query(
                "INSERT INTO workspace_secrets (workspace_id, key, value) VALUES ($1::uuid, 'K', 'v')", [workspace])
            try await owner.query(
                "INSERT INTO workspace_declared_plugins (workspace_id, plugin, ref) VALUES ($1::uuid, 'p', '1')", [workspace])
            try await owner.query(
                "INSERT INTO workspace_runtime_status (workspace_id, instance_id) VALUES ($1::uuid, 'i-1')", [workspace])
            for (controller, key) in [("instances", workspace), ("tunnel_ingress", tenant)] {
                try await owner.query(
                    """
                    INSERT INTO events (controller, key, type, reason, message, first_seen, last_seen)
                    VALUES ($1, $2::uuid, 'Normal', 'Seen', 'seen', now(), now())
                    """, [controller, key])
            }
            keys[org] = (workspace, tenant)
        }
        return World(acme: keys["acme"]!, globex: keys["globex"]!)
    }

    /// Rows of one org's keys in every org-keyed relation, as `pool` sees them.
    static func visibleRows(_ pool: PostgresPool, org: String, workspace: String, tenant: String) async throws -> [String: Int] {
        let queries: [String: String] = [
            "workspaces": "SELECT count(*)::int AS n FROM workspaces WHERE org = $1",
            "org_secrets": "SELECT count(*)::int AS n FROM org_secrets WHERE org = $1",
            "tenants": "SELECT count(*)::int AS n FROM tenants WHERE org = $1",
            "workspace_secrets": "SELECT count(*)::int AS n FROM workspace_secrets WHERE workspace_id = $2::uuid",
            "workspace_declared_plugins":
                "SELECT count(*)::int AS n FROM workspace_declared_plugins WHERE workspace_id = $2::uuid",
            "workspace_runtime_status": "SELECT count(*)::int AS n FROM workspace_runtime_status WHERE workspace_id = $2::uuid",
            "instances": "SELECT count(*)::int AS n FROM instances WHERE key = $2::uuid",
            "secret_bundles": "SELECT count(*)::int AS n FROM secret_bundles WHERE key = $2::uuid",
            "plugin_installs": "SELECT count(*)::int AS n FROM plugin_installs WHERE key = $2::uuid",
            "tunnel_ingress": "SELECT count(*)::int AS n FROM tunnel_ingress WHERE key = $3::uuid",
            "events": "SELECT count(*)::int AS n FROM events WHERE key IN ($2::uuid, $3::uuid)",
            "leases": "SELECT count(*)::int AS n FROM leases WHERE key IN ($2::uuid, $3::uuid)",
            "secret_versions": "SELECT count(*)::int AS n FROM secret_versions WHERE org = $1",
        ]
        var counts: [String: Int] = [:]
        for (relation, sql) in queries {
            // Every query binds all three parameters; PostgreSQL wants each one used and typed.
            let padded = sql + " AND $1::text IS NOT NULL AND $2::uuid IS NOT NULL AND $3::uuid IS NOT NULL"
            counts[relation] = try await pool.query(padded, [org, workspace, tenant]).rows[0].require(Int.self, "n")
        }
        return counts
    }

    @Test("a scoped operator and a scoped viewer see 0 rows of another org, and every row of their own")
    func scopedReads() async throws {
        let database = try await RoleDatabase.create()
        let world = try await Self.twoOrgs(database.owner)
        for group in [DatabaseRole.operator, .viewer] {
            let login = try await database.createLogin("acme_\(group)", in: [group])
            try await database.owner.query("INSERT INTO org_scopes (role, org) VALUES ($1, 'acme')", [login])
            let pool = database.pool(login: login)
            defer { Task { await pool.close() } }
            let other = try await Self.visibleRows(
                pool, org: "globex", workspace: world.globex.workspace, tenant: world.globex.tenant)
            #expect(other.values.allSatisfy { $0 == 0 }, "\(group) sees globex: \(other.filter { $0.value > 0 })")
            let own = try await Self.visibleRows(pool, org: "acme", workspace: world.acme.workspace, tenant: world.acme.tenant)
            #expect(own.values.allSatisfy { $0 > 0 }, "\(group) misses acme rows: \(own.filter { $0.value == 0 })")
        }
        // Unscoped: every org.
        let unscoped = database.pool(as: .viewer)
        defer { Task { await unscoped.close() } }
        let all = try await Self.visibleRows(
            unscoped, org: "globex", workspace: world.globex.workspace, tenant: world.globex.tenant)
        #expect(all.values.allSatisfy { $0 > 0 }, "\(all.filter { $0.value == 0 })")
    }

    @Test("a scoped operator cannot change another org's rows, nor the shared tables; its own edits work")
    func scopedWrites() async throws {
        let database = try await RoleDatabase.create()
        let world = try await Self.twoOrgs(database.owner)
        let login = try await database.createLogin("acme_operator", in: [.operator])
        try await database.owner.query("INSERT INTO org_scopes (role, org) VALUES ($1, 'acme')", [login])
        let pool = database.pool(login: login)
        defer { Task { await pool.close() } }

        #expect(try await pool.query("UPDATE workspaces SET image = 'img2' WHERE org = 'globex'").affectedRows == 0)
        #expect(try await pool.query("DELETE FROM tenants WHERE org = 'globex'").affectedRows == 0)
        #expect(try await pool.query("DELETE FROM org_secrets WHERE org = 'globex'").affectedRows == 0)
        #expect(
            try await pool.query("DELETE FROM workspace_secrets WHERE workspace_id = $1::uuid", [world.globex.workspace])
                .affectedRows == 0)
        for refused in [
            "INSERT INTO workspaces (org, name, image) VALUES ('globex', 'sneaky', 'img')",
            "UPDATE workspaces SET org = 'globex' WHERE org = 'acme'",
            "INSERT INTO org_secrets (org, key, value) VALUES ('globex', 'K2', 'v')",
            "INSERT INTO templates (name) VALUES ('shared')",
            "INSERT INTO platform_paths (pattern) VALUES ('/sneaky')",
        ] {
            await #expect(throws: PostgresError.self, "\(refused)") { try await pool.query(refused) }
        }
        #expect(try await pool.query("UPDATE workspaces SET image = 'img2' WHERE org = 'acme'").affectedRows == 1)
        let globex = try await database.owner.query(
            "SELECT image, (SELECT count(*)::int FROM tenants WHERE org = 'globex') AS tenants FROM workspaces WHERE org = 'globex'"
        ).rows[0]
        #expect(try globex.require(String.self, "image") == "img")
        #expect(try globex.require(Int.self, "tenants") == 1)
    }
}
