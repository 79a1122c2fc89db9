import Foundation
import Postgres
import PostgresTestSupport
import Testing

/// Secret values and token seeds carry marker values; operator, viewer and platform then read
/// every column of every relation they may read, the planner's statistics, and call every
/// function they may execute: no marker may come back, in a row or in an error.
@Suite("no secret value or token seed is readable by operator, viewer or platform")
struct SecretMarkerTests {
    @Test("a scan of every readable relation, the statistics and every executable function finds no marker")
    func markerScan() async throws {
        let database = try await RoleDatabase.create()
        let marker = "MARKER" + UUID().uuidString.replacingOccurrences(of: "-", with: "")
        let workspace = try await Self.plantMarkers(marker, database: database)
        for role in [DatabaseRole.operator, .viewer, .platform] {
            let pool = database.pool(as: role)
            defer { Task { await pool.close() } }
            let scanned = try await Self.scanRelations(pool, role: role, marker: marker)
            #expect(scanned.rows > 0, "\(role) read nothing at all")
            #expect(scanned.found.isEmpty, "\(role) read a marker from \(scanned.found)")
            let called = try await Self.callFunctions(pool, marker: marker)
            #expect(called.found.isEmpty, "\(role) got a marker from \(called.found)")
            if role != .viewer { #expect(called.count > 0) }
        }
        // The write path stays open: both write-only roles can set a value they cannot read back.
        let operatorPool = database.pool(as: .operator)
        defer { Task { await operatorPool.close() } }
        try await operatorPool.query(
            "SELECT molecule_put_workspace_secret($1::uuid, 'ROTATED', $2)", [workspace, marker + "-rotated"])
        await #expect(throws: PostgresError.self) {
            try await operatorPool.query("SELECT value FROM workspace_secrets WHERE key = 'ROTATED'")
        }
        let stored = try await database.owner.query("SELECT value FROM workspace_secrets WHERE key = 'ROTATED'").rows
        #expect(try stored.first?.require(String.self, "value") == marker + "-rotated")
    }

    /// Owner's writes: an org secret, a workspace secret, a token seed, plus the same through
    /// the roles' own write paths; statistics gathered so that pg_stats would show values.
    static func plantMarkers(_ marker: String, database: RoleDatabase) async throws -> String {
        let owner = database.owner
        let workspace = try await owner.query(
            "INSERT INTO workspaces (org, name, image) VALUES ('acme', 'w', 'img') RETURNING id::text AS id"
        ).rows[0].require(String.self, "id")
        try await owner.query("INSERT INTO org_secrets (org, key, value) VALUES ('acme', 'ORG_KEY', $1)", [marker + "-org"])
        try await owner.query(
            "INSERT INTO workspace_secrets (workspace_id, key, value) VALUES ($1::uuid, 'WS_KEY', $2)",
            [workspace, marker + "-ws"])
        try await owner.query("UPDATE secret_bundles SET token_seed = $2 WHERE key = $1::uuid", [workspace, marker + "-seed"])
        let platform = database.pool(as: .platform)
        defer { Task { await platform.close() } }
        try await platform.query(
            "SELECT molecule_put_workspace_secret($1::uuid, 'OWN_KEY', $2, true, 'workspace:' || $1)",
            [workspace, marker + "-own"])
        try await owner.query("ANALYZE")
        return workspace
    }

    /// Reads every column the role may select, of every relation of the schema and of pg_stats.
    static func scanRelations(_ pool: PostgresPool, role: DatabaseRole, marker: String) async throws -> (
        rows: Int, found: [String]
    ) {
        let columns = try await pool.query(
            """
            SELECT c.relname::text AS relation, a.attname::text AS col
              FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
             WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
               AND has_column_privilege(c.oid, a.attnum, 'SELECT')
            """
        ).rows
        var rows = 0
        var found: [String] = []
        for column in columns {
            let relation = try column.require(String.self, "relation")
            let name = try column.require(String.self, "col")
            let values = try await pool.query(
                "SELECT \(PrivilegeMatrixTests.quoted(name))::text AS v FROM \(PrivilegeMatrixTests.quoted(relation))"
            ).rows
            rows += values.count
            for value in values where try value.decode(String.self, "v")?.contains(marker) == true {
                found.append("\(relation).\(name)")
            }
        }
        let statistics = try await pool.query(
            """
            SELECT tablename::text || '.' || attname::text AS col,
                   concat(most_common_vals::text, histogram_bounds::text) AS v
              FROM pg_stats WHERE schemaname = current_schema()
            """
        ).rows
        for row in statistics where try row.require(String.self, "v").contains(marker) {
            found.append("pg_stats " + (try row.require(String.self, "col")))
        }
        return (rows, found)
    }

    /// Calls every function of the schema the role may execute (trigger functions cannot be
    /// called), with NULL arguments; results and error messages are searched.
    static func callFunctions(_ pool: PostgresPool, marker: String) async throws -> (count: Int, found: [String]) {
        let functions = try await pool.query(
            """
            SELECT p.oid::regproc::text AS name, p.oid::regprocedure::text AS signature,
                   array_to_string(ARRAY(SELECT 'NULL::' || format_type(t, NULL) FROM unnest(p.proargtypes) AS t), ', ') AS args
              FROM pg_proc p
             WHERE p.pronamespace = current_schema()::regnamespace AND p.prorettype <> 'trigger'::regtype
               AND has_function_privilege(p.oid, 'EXECUTE')
            """
        ).rows
        var found: [String] = []
        for function in functions {
            let signature = try function.require(String.self, "signature")
            let call =
                "SELECT \(try function.require(String.self, "name"))(\(try function.require(String.self, "args")))::text AS v"
            do {
                let rows = try await pool.query(call).rows
                if try rows.contains(where: { try $0.decode(String.self, "v")?.contains(marker) == true }) {
                    found.append(signature)
                }
            } catch let error as PostgresError {
                if "\(error)".contains(marker) { found.append(signature + " (error)") }
            }
        }
        return (functions.count, found)
    }
}
