import AdversarialCorpus
import Foundation
import Postgres
import PostgresTestSupport
import Testing

/// A write to a secret table that must fail: `$1` is a marker secret (in `value`, or typed into
/// another column by mistake), `$2`, when used, the id of the fixture workspace `seo`.
struct SecretWrite: Sendable, CustomTestStringConvertible {
    var column: String
    var what: String
    var sql: String

    init(_ column: String, _ what: String, _ sql: String) {
        self.column = column
        self.what = what
        self.sql = sql
    }

    var testDescription: String { "\(column): \(what)" }

    func parameters(marker: String, workspace: String) -> [(any PostgresEncodable)?] {
        sql.contains("$2") ? [marker, workspace] : [marker]
    }
}

/// Every NOT NULL, CHECK, FK and unique path of both secret tables: the secret is in neither
/// the message nor the DETAIL, and no path reaches PostgreSQL's own "Failing row contains".
@Suite("secret tables never echo a value")
struct SecretTablesTests {
    static let writes: [SecretWrite] = [
        .init(
            "workspace_secrets.workspace_id", "NULL",
            "INSERT INTO workspace_secrets (workspace_id, key, value) VALUES (NULL, 'K', $1)"),
        .init(
            "workspace_secrets.workspace_id", "no such workspace",
            "INSERT INTO workspace_secrets (workspace_id, key, value) VALUES (gen_random_uuid(), 'K', $1)"),
        .init(
            "workspace_secrets.workspace_id", "moved to no such workspace",
            "UPDATE workspace_secrets SET workspace_id = gen_random_uuid(), value = $1 WHERE workspace_id = $2::uuid"),
        .init(
            "workspace_secrets.key", "NULL",
            "INSERT INTO workspace_secrets (workspace_id, key, value) VALUES ($2::uuid, NULL, $1)"),
        .init(
            "workspace_secrets.key", "not a variable name",
            "INSERT INTO workspace_secrets (workspace_id, key, value) VALUES ($2::uuid, '1BAD', $1)"),
        .init(
            "workspace_secrets.key", "the secret typed into key",
            "INSERT INTO workspace_secrets (workspace_id, key, value) VALUES ($2::uuid, $1, 'v')"),
        .init(
            "workspace_secrets.key", "over 128 characters",
            "INSERT INTO workspace_secrets (workspace_id, key, value) VALUES ($2::uuid, repeat('K', 200), $1)"),
        .init(
            "workspace_secrets.key", "already set (plain INSERT)",
            "INSERT INTO workspace_secrets (workspace_id, key, value) VALUES ($2::uuid, 'API_KEY', $1)"),
        .init(
            "workspace_secrets.key", "renamed to a key already set",
            "UPDATE workspace_secrets SET key = 'API_KEY', value = $1 WHERE workspace_id = $2::uuid AND key = 'OTHER_KEY'"),
        .init(
            "workspace_secrets.value", "NULL",
            "INSERT INTO workspace_secrets (workspace_id, key, value, written_by) VALUES ($2::uuid, 'K', NULL, $1)"),
        .init(
            "workspace_secrets.value", "set to NULL",
            "UPDATE workspace_secrets SET value = NULL, written_by = $1 WHERE workspace_id = $2::uuid"),
        .init(
            "workspace_secrets.value", "set to NULL by an upsert",
            "INSERT INTO workspace_secrets (workspace_id, key, value) VALUES ($2::uuid, 'API_KEY', $1) ON CONFLICT (workspace_id, key) DO UPDATE SET value = NULL"
        ),
        .init(
            "workspace_secrets.value", "over 64 KiB",
            "INSERT INTO workspace_secrets (workspace_id, key, value) VALUES ($2::uuid, 'K', repeat($1, 2000))"),
        .init(
            "workspace_secrets.runtime_consumed", "NULL",
            "INSERT INTO workspace_secrets (workspace_id, key, value, runtime_consumed) VALUES ($2::uuid, 'K', $1, NULL)"),
        .init(
            "workspace_secrets.written_by", "NULL",
            "INSERT INTO workspace_secrets (workspace_id, key, value, written_by) VALUES ($2::uuid, 'K', $1, NULL)"),
        .init(
            "workspace_secrets.written_by", "the secret typed into written_by",
            "INSERT INTO workspace_secrets (workspace_id, key, value, written_by) VALUES ($2::uuid, 'K', 'v', $1)"),
        .init(
            "workspace_secrets.written_at", "NULL",
            "INSERT INTO workspace_secrets (workspace_id, key, value, written_at) VALUES ($2::uuid, 'K', $1, NULL)"),

        .init("org_secrets.org", "NULL", "INSERT INTO org_secrets (org, key, value) VALUES (NULL, 'K', $1)"),
        .init("org_secrets.org", "whitespace", "INSERT INTO org_secrets (org, key, value) VALUES (E'\\t', 'K', $1)"),
        .init("org_secrets.org", "the secret typed into org", "INSERT INTO org_secrets (org, key, value) VALUES ($1, 'K', 'v')"),
        .init("org_secrets.key", "NULL", "INSERT INTO org_secrets (org, key, value) VALUES ('acme', NULL, $1)"),
        .init(
            "org_secrets.key", "the secret typed into key", "INSERT INTO org_secrets (org, key, value) VALUES ('acme', $1, 'v')"),
        .init(
            "org_secrets.key", "already set (plain INSERT)",
            "INSERT INTO org_secrets (org, key, value) VALUES ('acme', 'SHARED', $1)"),
        .init(
            "org_secrets.key", "renamed to a key already set",
            "UPDATE org_secrets SET key = 'SHARED', value = $1 WHERE org = 'acme' AND key = 'OTHER'"),
        .init(
            "org_secrets.value", "NULL", "INSERT INTO org_secrets (org, key, value, written_by) VALUES ('acme', 'K', NULL, $1)"),
        .init(
            "org_secrets.value", "set to NULL by an upsert",
            "INSERT INTO org_secrets (org, key, value) VALUES ('acme', 'SHARED', $1) ON CONFLICT (org, key) DO UPDATE SET value = NULL"
        ),
        .init(
            "org_secrets.value", "over 64 KiB", "INSERT INTO org_secrets (org, key, value) VALUES ('acme', 'K', repeat($1, 2000))"
        ),
        .init(
            "org_secrets.runtime_consumed", "NULL",
            "INSERT INTO org_secrets (org, key, value, runtime_consumed) VALUES ('acme', 'K', $1, NULL)"),
        .init(
            "org_secrets.written_by", "the secret typed into written_by",
            "INSERT INTO org_secrets (org, key, value, written_by) VALUES ('acme', 'K', 'v', $1)"),
        .init("org_secrets.written_at", "NULL", "UPDATE org_secrets SET written_at = NULL, value = $1 WHERE org = 'acme'"),
    ]

    static func marker() -> String { "sk-live-MARKER-\(UUID().uuidString)" }

    /// The fixture's workspace `seo`, and a function that runs a statement and returns the
    /// server's own error fields (message, DETAIL, HINT, CONTEXT), as they reach the log.
    static func database() async throws -> (PostgresPool, workspace: String) {
        let pool = try await HostileFixture.create()
        try await pool.query(
            """
            CREATE FUNCTION test_error_fields(statement text, p1 text, p2 text) RETURNS text[]
            LANGUAGE plpgsql AS $$
            DECLARE
                message text; detail text; hint text; context text;
            BEGIN
                EXECUTE statement USING p1, p2;
                RETURN NULL;
            EXCEPTION WHEN OTHERS THEN
                GET STACKED DIAGNOSTICS message = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL,
                                        hint = PG_EXCEPTION_HINT, context = PG_EXCEPTION_CONTEXT;
                RETURN ARRAY[message, detail, hint, context];
            END $$
            """)
        let workspace = try await pool.query("SELECT id FROM workspaces WHERE name = 'seo'").rows[0].require(String.self, "id")
        return (pool, workspace)
    }

    @Test("refused with the column named; the secret is in neither the message nor the DETAIL", arguments: writes)
    func neverEchoed(_ write: SecretWrite) async throws {
        let (pool, workspace) = try await Self.database()
        let marker = Self.marker()
        do {
            try await pool.query(write.sql, write.parameters(marker: marker, workspace: workspace))
            Issue.record("accepted")
        } catch let error as PostgresError {
            #expect(error.message.contains("\(write.column): "), "\(error.message)")
            #expect(!"\(error) \(error.debugDescription)".contains("MARKER"), "\(error.debugDescription)")
        }
        // The same statement as the server reports it, DETAIL included.
        let fields = try await pool.query("SELECT test_error_fields($1, $2, $3) AS fields", [write.sql, marker, workspace])
            .rows[0].require(String.self, "fields")
        #expect(fields.contains("\(write.column): "), "\(fields)")
        #expect(!fields.contains("MARKER"), "the secret reached the server's error: \(fields)")
        #expect(!fields.contains("Failing row contains"), "\(fields)")
    }

    @Test("the server log holds the failing statements' errors, and never the secret")
    func serverLog() async throws {
        let (pool, workspace) = try await Self.database()
        let marker = Self.marker()
        for write in Self.writes {
            await #expect(throws: PostgresError.self) {
                try await pool.query(write.sql, write.parameters(marker: marker, workspace: workspace))
            }
        }
        // A control: an error whose DETAIL echoes its row does reach the log, with its value.
        let control = "CONTROL-\(UUID().uuidString)"
        await #expect(throws: PostgresError.self) {
            try await pool.query("UPDATE instances SET remediations = -1, address = $1", [control])
        }
        var log = ""
        for _ in 0..<100 {
            log = try await TestDatabase.serverLog()
            if log.contains(control) { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(log.contains("Failing row contains") && log.contains(control), "the control never reached the log")
        #expect(log.contains("workspace_secrets.value: must not be NULL"))
        #expect(!log.contains(marker), "a secret value reached the server log")
    }
}
