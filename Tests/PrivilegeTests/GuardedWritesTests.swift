import Foundation
import Postgres
import PostgresTestSupport
import Testing

/// Schema 0012 gives every role the writes it is refused, so that a guard can name the owner.
/// The matrix checks each statement on no row; here the refused writes meet real rows, in every
/// form a statement can take, and the rows must come out as they went in.
@Suite("guarded writes let nothing through")
struct GuardedWritesTests {
    @Test("MERGE, ON CONFLICT, writable CTEs, TRUNCATE ... CASCADE and plain statements on real rows change nothing")
    func nothingThrough() async throws {
        let database = try await RoleDatabase.create()
        let workspace = try await database.owner.query(
            "INSERT INTO workspaces (org, name, image) VALUES ('acme', 'w', 'img') RETURNING id::text AS id"
        ).rows[0].require(String.self, "id")
        try await database.owner.query("INSERT INTO templates (name) VALUES ('t')")
        try await database.owner.query(
            """
            INSERT INTO events (controller, key, type, reason, message, first_seen, last_seen)
            VALUES ('instances', $1::uuid, 'Normal', 'R', 'm', now(), now())
            """,
            [workspace])
        try await database.owner.query(
            "INSERT INTO workspace_secrets (workspace_id, key, value) VALUES ($1::uuid, 'K', 'v')", [workspace])
        let before = try await Self.snapshot(database.owner)
        let owner = try await database.owner.query("SELECT current_user::text AS u").rows[0].require(String.self, "u")
        let schemaOwner = "the schema's owner \(owner) (migrate and its triggers)"

        let attempts: [(DatabaseRole, String, String)] = [
            (
                .platform,
                "MERGE INTO workspaces w USING (SELECT 1) s ON true WHEN MATCHED THEN UPDATE SET phase = 'running'",
                "workspaces.phase: status, written only by the molecule_reconciler role (the sidecar)"
            ),
            (
                .operator,
                "INSERT INTO workspaces (org, name, image) VALUES ('acme', 'w', 'img') ON CONFLICT (org, name) DO UPDATE SET last_error = 'x'",
                "workspaces.last_error: status, written only by the molecule_reconciler role (the sidecar)"
            ),
            (
                .operator, "INSERT INTO workspaces (org, name, image, phase) VALUES ('acme', 'w2', 'img', 'running')",
                "workspaces.phase: status, written only by the molecule_reconciler role (the sidecar)"
            ),
            (
                .viewer, "WITH gone AS (DELETE FROM workspaces RETURNING 1) SELECT count(*) FROM gone",
                "workspaces: rows deleted only by the molecule_operator role"
            ),
            (
                .operator, "TRUNCATE workspaces CASCADE",
                "workspaces: truncated only by \(schemaOwner)"
            ),
            (
                .reconciler, "TRUNCATE events", "events: truncated only by \(schemaOwner)"
            ),
            (
                .reconciler, "DELETE FROM events", "events: rows deleted only by \(schemaOwner)"
            ),
            (
                .reconciler, "INSERT INTO templates (name) VALUES ('t') ON CONFLICT (name) DO UPDATE SET files = '{}'",
                "templates: rows inserted only by the molecule_operator role"
            ),
            (
                .reconciler, "UPDATE workspaces SET image = 'other'",
                "workspaces.image: written only by the molecule_operator role"
            ),
            (
                .platform, "UPDATE workspace_secrets SET key = 'K2'",
                "workspace_secrets.key: written only by the molecule_operator role"
            ),
            (
                .viewer, "UPDATE instances SET attempts = 7",
                "instances: written only by the molecule_reconciler role (the sidecar)"
            ),
        ]
        for (role, sql, message) in attempts {
            let pool = database.pool(as: role)
            defer { Task { await pool.close() } }
            do {
                try await pool.query(sql)
                Issue.record("\(role): \(sql) went through")
            } catch let error as PostgresError {
                #expect(error.sqlState == "42501", "\(role): \(sql): \(error)")
                #expect(error.message == "\(message), not by \(database.login(role))", "\(role): \(sql): \(error)")
            }
        }
        #expect(try await Self.snapshot(database.owner) == before)
    }

    @Test("behind the guards, row-level security: with a guard disabled, a refused write still changes no row")
    func secondLayer() async throws {
        let database = try await RoleDatabase.create()
        let workspace = try await database.owner.query(
            "INSERT INTO workspaces (org, name, image) VALUES ('acme', 'w', 'img') RETURNING id::text AS id"
        ).rows[0].require(String.self, "id")
        try await database.owner.query(
            """
            INSERT INTO events (controller, key, type, reason, message, first_seen, last_seen)
            VALUES ('instances', $1::uuid, 'Normal', 'R', 'm', now(), now())
            """, [workspace])
        for (table, trigger) in [
            ("instances", "instances_update_guard"), ("workspaces", "workspaces_delete_guard"),
            ("templates", "templates_insert_guard"), ("events", "events_delete_guard"),
        ] {
            try await database.owner.query("ALTER TABLE \(table) DISABLE TRIGGER \(trigger)")
        }
        let before = try await Self.snapshot(database.owner)
        let attempts: [(DatabaseRole, String)] = [
            (.viewer, "UPDATE instances SET attempts = 7"), (.operator, "UPDATE instances SET attempts = 7"),
            (.viewer, "DELETE FROM workspaces"), (.platform, "DELETE FROM workspaces"), (.reconciler, "DELETE FROM events"),
        ]
        for (role, sql) in attempts {
            let pool = database.pool(as: role)
            defer { Task { await pool.close() } }
            try await pool.query(sql)  // no guard answers: no row is visible to the write
        }
        let reconciler = database.pool(as: .reconciler)
        defer { Task { await reconciler.close() } }
        do {
            try await reconciler.query("INSERT INTO templates (name) VALUES ('t')")
            Issue.record("the reconciler inserted a template")
        } catch let error as PostgresError {
            #expect(error.sqlState == "42501" && error.message.contains("row-level security"), "\(error)")
        }
        #expect(try await Self.snapshot(database.owner) == before)
    }

    /// Every row of the tables the attempts aim at, as text.
    static func snapshot(_ pool: PostgresPool) async throws -> [String] {
        var rows: [String] = []
        for table in ["workspaces", "templates", "events", "instances", "workspace_secrets", "secret_bundles"] {
            rows += try await pool.query("SELECT \(table)::text AS row FROM \(table) ORDER BY 1").rows
                .map { "\(table): " + (try $0.require(String.self, "row")) }
        }
        return rows
    }
}
