import Foundation
import Postgres
import PostgresTestSupport
import Testing

/// The triggers that keep controller tables, leases and retired_ingress in step with the spec
/// run as the schema's owner: an operator, who may write none of those, still moves them all.
@Suite("the spec triggers under the operator role")
struct SpecTriggersUnderRolesTests {
    @Test("an operator's inserts, edits and deletes create keys and leases, bump generations, retire ingress and drop leases")
    func operatorEdits() async throws {
        let database = try await RoleDatabase.create()
        let alice = database.pool(as: .operator)
        defer { Task { await alice.close() } }
        try await alice.query("INSERT INTO templates (name, files) VALUES ('t', '{\"config.yaml\": \"a: 1\\n\"}')")
        let workspace = try await alice.query(
            "INSERT INTO workspaces (org, name, image, template) VALUES ('acme', 'w', 'img', 't') RETURNING id::text AS id"
        ).rows[0].require(String.self, "id")
        let tenant = try await alice.query(
            """
            INSERT INTO tenants (name, org, hostname, tunnel_id, services)
            VALUES ('acme', 'acme', 'acme.example.com', 'tunnel-acme', '{"app": "http://127.0.0.1:3000"}')
            RETURNING id::text AS id
            """
        ).rows[0].require(String.self, "id")
        #expect(
            try await Self.count(
                database.owner, "SELECT count(*)::int AS n FROM leases WHERE key IN ($1::uuid, $2::uuid)", workspace, tenant) == 4
        )

        try await alice.query("UPDATE templates SET files = '{\"config.yaml\": \"a: 2\\n\"}'")
        try await alice.query("INSERT INTO org_secrets (org, key, value) VALUES ('acme', 'K', 'v')")
        try await alice.query(
            "INSERT INTO workspace_declared_plugins (workspace_id, plugin, ref) VALUES ($1::uuid, 'p', '1')", [workspace])
        try await alice.query("INSERT INTO platform_paths (pattern) VALUES ('/api/*')")
        let generations = try await database.owner.query(
            """
            SELECT (SELECT desired_generation FROM secret_bundles WHERE key = $1::uuid) AS bundles,
                   (SELECT desired_generation FROM plugin_installs WHERE key = $1::uuid) AS plugins,
                   (SELECT desired_generation FROM tunnel_ingress WHERE key = $2::uuid) AS ingress
            """, [workspace, tenant]
        ).rows[0]
        #expect(try generations.require(Int.self, "bundles") >= 4, "template, org secret and plugin each bump the bundle")
        #expect(try generations.require(Int.self, "plugins") == 2)
        #expect(try generations.require(Int.self, "ingress") == 2)

        try await alice.query("UPDATE tenants SET hostname = 'acme2.example.com'")
        try await alice.query("DELETE FROM tenants")
        try await alice.query("DELETE FROM workspaces")
        let retired = try await database.owner.query("SELECT hostname FROM retired_ingress ORDER BY hostname").rows
            .map { try $0.require(String.self, "hostname") }
        #expect(retired == ["acme.example.com", "acme2.example.com"])
        #expect(
            try await Self.count(
                database.owner, "SELECT count(*)::int AS n FROM leases WHERE key IN ($1::uuid, $2::uuid)", workspace, tenant) == 0
        )
        #expect(
            try await Self.count(
                database.owner, "SELECT count(*)::int AS n FROM instances WHERE key = $1::uuid AND $2::uuid IS NOT NULL",
                workspace, tenant) == 0)
    }

    static func count(_ pool: PostgresPool, _ sql: String, _ first: String, _ second: String) async throws -> Int {
        try await pool.query(sql, [first, second]).rows[0].require(Int.self, "n")
    }
}
