import AdversarialCorpus
import Foundation
import Postgres
import PostgresTestSupport
import Testing

// The corpus and its fixture are shared with the test that throws them beside a healthy fleet.
extension HostileWrite: CustomTestStringConvertible {}

@Suite("adversarial input")
struct AdversarialInputTests {
    @Test("every hostile write is refused with a one-line message naming its column", arguments: AdversarialCorpus.writes)
    func refused(_ write: HostileWrite) async throws {
        let problems = try await write.attempt(on: HostileFixture.shared.value)
        #expect(problems.isEmpty, "\(problems)")
    }

    @Test("the corpus covers every spec table")
    func coverage() {
        let tables = Set(AdversarialCorpus.writes.map { $0.column.split(separator: ".")[0] })
        #expect(
            tables == [
                "workspaces", "templates", "workspace_secrets", "org_secrets", "workspace_declared_plugins",
                "privileged_plugins", "tenants", "platform_paths", "workspace_runtime_status",
            ])
        #expect(AdversarialCorpus.writes.count >= 60)
    }

    static let controllerCounters: [(sql: String, column: String)] = [
        ("UPDATE instances SET remediations = -1", "instances.remediations"),
        ("UPDATE instances SET attempts = -1", "instances.attempts"),
        ("UPDATE instances SET target_generation = -1", "instances.target_generation"),
        ("UPDATE instances SET observed_generation = -1", "instances.observed_generation"),
        ("UPDATE secret_bundles SET attempts = -1", "secret_bundles.attempts"),
        ("UPDATE secret_bundles SET staged_generation = -1", "secret_bundles.staged_generation"),
        ("UPDATE secret_bundles SET desired_generation = -3", "secret_bundles.desired_generation"),
        ("UPDATE plugin_installs SET attempts = -1", "plugin_installs.attempts"),
        ("UPDATE plugin_installs SET installed = '[]'", "plugin_installs.installed"),
        ("UPDATE tunnel_ingress SET applied_rules = -1", "tunnel_ingress.applied_rules"),
        ("UPDATE tunnel_ingress SET observed_generation = -1", "tunnel_ingress.observed_generation"),
        ("UPDATE leases SET token = -1", "leases.token"),
        ("UPDATE events SET count = 0", "events.count"),
    ]

    @Test("a hand edit cannot make a controller-owned counter negative", arguments: controllerCounters)
    func counters(_ sql: String, _ column: String) async throws {
        let pool = try await HostileFixture.shared.value
        do {
            try await pool.query(sql)
            Issue.record("accepted: \(sql)")
        } catch let error as PostgresError {
            #expect(error.message.contains("\(column): must"), "\(error.message)")
        }
    }

    @Test("rows written before the rules keep working; upserts of the same row are not refused as duplicates")
    func existingRowsAndUpserts() async throws {
        let pool = try await HostileFixture.create()
        // A name the rules now refuse, written before them.
        try await pool.query("ALTER TABLE workspaces DISABLE TRIGGER workspaces_validate")
        try await pool.query("UPDATE workspaces SET name = E'old\\tname' WHERE name = 'seo'")
        try await pool.query("ALTER TABLE workspaces ENABLE TRIGGER workspaces_validate")
        try await pool.query(
            "UPDATE workspaces SET phase = 'running', restart_requests = restart_requests + 1 WHERE org = 'acme'")
        await #expect(throws: PostgresError.self) {
            try await pool.query("UPDATE workspaces SET name = E'new\\tname' WHERE name = 'concierge'")
        }

        try await pool.query(
            """
            INSERT INTO workspace_secrets (workspace_id, key, value) SELECT id, 'API_KEY', 'rotated' FROM workspaces WHERE name = 'concierge'
            ON CONFLICT (workspace_id, key) DO UPDATE SET value = excluded.value
            """)
        try await pool.query(
            """
            INSERT INTO workspace_secrets (workspace_id, key, value) SELECT id, 'API_KEY', 'rotated' FROM workspaces WHERE name = 'concierge'
            ON CONFLICT (workspace_id, key) DO UPDATE SET value = excluded.value
            """)
        try await pool.query(
            """
            INSERT INTO org_secrets (org, key, value) VALUES ('acme', 'SHARED', 'rotated')
            ON CONFLICT (org, key) DO UPDATE SET value = excluded.value
            """)
        try await pool.query(
            """
            INSERT INTO tenants (name, hostname, tunnel_id) VALUES ('acme', 'acme.example.com', 'tunnel-acme-2')
            ON CONFLICT (name) DO UPDATE SET tunnel_id = excluded.tunnel_id
            """)
        let values = try await pool.query(
            """
            SELECT (SELECT count(*) FROM workspace_secrets WHERE value = 'rotated') AS workspace,
                   (SELECT value FROM org_secrets WHERE key = 'SHARED') AS org,
                   (SELECT tunnel_id FROM tenants WHERE name = 'acme') AS tunnel
            """
        ).rows[0]
        #expect(try values.require(Int.self, "workspace") == 1)
        #expect(try values.require(String.self, "org") == "rotated")
        #expect(try values.require(String.self, "tunnel") == "tunnel-acme-2")
    }
}
