import Foundation
import Postgres
import PostgresTestSupport
import Testing

/// `explain` on a workspace stuck for each reason the controllers know, with the rows written
/// as the controllers leave them; read-only: the rows are the same afterwards.
@Suite("explain")
struct ExplainTests {
    /// A workspace of org `ops` with an empty template; returns its id.
    static func workspace(_ pool: PostgresPool, _ name: String, kind: String = "agent") async throws -> String {
        try await pool.query("INSERT INTO templates (name, files) VALUES ('plain', '{}') ON CONFLICT DO NOTHING")
        return try await pool.query(
            "INSERT INTO workspaces (org, name, kind, template, image) VALUES ('ops', $1, $2, 'plain', 'img') RETURNING id",
            [name, kind]
        ).rows[0].require(String.self, "id")
    }

    /// Its instance of generation 1 is recorded running, booted with bundle runtime hash `a`,
    /// and the bundle of generation 1 is staged.
    static func running(_ pool: PostgresPool, _ id: String, phase: String = "running", stagedRuntimeHash: String = "a")
        async throws
    {
        try await pool.query(
            """
            UPDATE instances SET instance_id = 'i-' || left($1::text, 8), instance_generation = 1, instance_state = 'running',
                   address = '127.0.0.1:1', launched_at = now() - interval '1 hour', booted_runtime_hash = 'a'
             WHERE key = $1::uuid
            """, [id])
        try await pool.query(
            "UPDATE secret_bundles SET staged_generation = 1, staged_hash = 'h', staged_runtime_hash = $2 WHERE key = $1::uuid",
            [id, stagedRuntimeHash])
        try await pool.query("UPDATE workspaces SET phase = $2 WHERE id = $1::uuid", [id, phase])
    }

    /// A heartbeat of the recorded instance.
    static func heartbeat(_ pool: PostgresPool, _ id: String, ready: Bool, age: String, busy: Bool = false) async throws {
        try await pool.query(
            """
            INSERT INTO workspace_runtime_status (workspace_id, instance_id, ready, busy_since, reported_at)
            VALUES ($1::uuid, 'i-' || left($1::text, 8), $2, CASE WHEN $3 THEN now() END, now() - $4::interval)
            """, [id, ready, busy, age])
    }

    struct Explained {
        var reasons: [String: [String]]
        var text: String
    }

    static func explain(_ pool: PostgresPool, _ name: String) throws -> Explained {
        let json = try OperatorCommandsTests.run(["explain", "ops/\(name)", "-o", "json"], pool)
        #expect(json.status == 0, "\(json.output)")
        let object = try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any] ?? [:]
        var reasons: [String: [String]] = [:]
        for controller in object["controllers"] as? [[String: Any]] ?? [] {
            reasons[controller["controller"] as? String ?? ""] = controller["reasons"] as? [String] ?? []
        }
        return Explained(reasons: reasons, text: try OperatorCommandsTests.run(["explain", "ops/\(name)"], pool).output)
    }

    /// Every row the command could have touched, as text.
    static func snapshot(_ pool: PostgresPool) async throws -> String {
        var text = ""
        for table in ["workspaces", "instances", "secret_bundles", "plugin_installs", "leases", "events"] {
            let rows = try await pool.query("SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) AS h FROM \(table) t").rows
            text += "\(table)=\(try rows[0].decode(String.self, "h") ?? "")\n"
        }
        return text
    }

    @Test("waiting for a bundle")
    func waitingForBundle() async throws {
        let pool = try await TestDatabase.create(poolSize: 1)
        _ = try await Self.workspace(pool, "fresh")
        let explained = try Self.explain(pool, "fresh")
        #expect(explained.reasons["instances"]?.contains("WaitingForBundle") == true, "\(explained.text)")
        #expect(explained.text.contains("instance generation 1 waits for its bundle (staged: generation none)"))
        #expect(explained.text.contains("next: stage the bundle of instance generation 1"))
        #expect(explained.text.contains("not converged (phase pending, Ready Unknown)"))
    }

    @Test("backoff after failures")
    func backoff() async throws {
        let pool = try await TestDatabase.create(poolSize: 1)
        let id = try await Self.workspace(pool, "throttled")
        try await pool.query(
            """
            UPDATE secret_bundles SET attempts = 3, last_error = 'secret store throttled', last_error_at = now(),
                   next_attempt_at = now() + interval '90 seconds' WHERE key = $1::uuid
            """, [id])
        let explained = try Self.explain(pool, "throttled")
        #expect(explained.reasons["secret_bundles"] == ["Backoff"], "\(explained.text)")
        #expect(explained.text.contains("failed 3 time(s), last: secret store throttled"))
        #expect(explained.text.contains("next: retries at"))
    }

    @Test("terminal input error")
    func terminal() async throws {
        let pool = try await TestDatabase.create(poolSize: 1)
        let id = try await Self.workspace(pool, "refused")
        try await pool.query(
            """
            UPDATE secret_bundles SET attempts = 1, last_error = 'template ''plain'': a file path may not leave the bundle',
                   next_attempt_at = 'infinity' WHERE key = $1::uuid
            """, [id])
        let explained = try Self.explain(pool, "refused")
        #expect(explained.reasons["secret_bundles"] == ["TerminalError"], "\(explained.text)")
        #expect(explained.reasons["instances"]?.contains("TerminalError") == true, "\(explained.text)")
        #expect(explained.text.contains("the bundle of instance generation 1 cannot be staged: template 'plain'"))
        #expect(explained.text.contains("nothing until its input changes"))
        #expect(explained.text.contains("fail terminally (BundleNotStaged)"))
    }

    @Test("restart deferred by a busy turn")
    func busyTurn() async throws {
        let pool = try await TestDatabase.create(poolSize: 1)
        let id = try await Self.workspace(pool, "busy")
        try await Self.running(pool, id, stagedRuntimeHash: "b")
        try await Self.heartbeat(pool, id, ready: true, age: "1 second", busy: true)
        let before = try await Self.snapshot(pool)
        let explained = try Self.explain(pool, "busy")
        #expect(explained.reasons["instances"]?.contains("RestartDeferredBusyTurn") == true, "\(explained.text)")
        #expect(explained.text.contains("restart when the turn ends"))
        #expect(try await Self.snapshot(pool) == before, "explain wrote a row")
        let described = try OperatorCommandsTests.run(["describe", "workspace", "ops/busy"], pool)
        #expect(described.output.contains("Busy Since:"), "\(described.output)")
    }

    @Test("restart pending on a platform workspace")
    func restartPending() async throws {
        let pool = try await TestDatabase.create(poolSize: 1)
        let id = try await Self.workspace(pool, "platform", kind: "platform")
        try await Self.running(pool, id, stagedRuntimeHash: "b")
        try await pool.query("UPDATE workspaces SET restart_pending = true WHERE id = $1::uuid", [id])
        try await Self.heartbeat(pool, id, ready: true, age: "1 second")
        let explained = try Self.explain(pool, "platform")
        #expect(explained.reasons["instances"]?.contains("RestartPending") == true, "\(explained.text)")
        #expect(explained.text.contains("restart_pending: platform workspaces are never restarted automatically"))
        let described = try OperatorCommandsTests.run(["describe", "workspace", "ops/platform"], pool)
        #expect(
            described.output.contains("Restart Pending:      true (platform workspaces are never restarted automatically)"),
            "\(described.output)")
    }

    @Test("remediation budget spent")
    func budgetSpent() async throws {
        let pool = try await TestDatabase.create(poolSize: 1)
        let id = try await Self.workspace(pool, "spent")
        try await Self.running(pool, id, phase: "failed")
        try await pool.query(
            "UPDATE instances SET remediations = 3, last_remediation_at = now() - interval '1 hour' WHERE key = $1::uuid", [id])
        try await Self.heartbeat(pool, id, ready: false, age: "1 hour")
        let explained = try Self.explain(pool, "spent")
        #expect(explained.reasons["instances"]?.contains("RemediationBudgetSpent") == true, "\(explained.text)")
        #expect(explained.text.contains("automatic remediation gave up after 3 attempt(s)"))
    }

    @Test("remediation circuit open")
    func circuitOpen() async throws {
        let pool = try await TestDatabase.create(poolSize: 1)
        for name in ["down-1", "down-2", "down-3", "down-4"] {
            let id = try await Self.workspace(pool, name)
            try await Self.running(pool, id, phase: "failed")
            try await Self.heartbeat(pool, id, ready: false, age: "1 hour")
        }
        let explained = try Self.explain(pool, "down-1")
        #expect(explained.reasons["instances"]?.contains("CircuitOpen") == true, "\(explained.text)")
        #expect(explained.text.contains("automatic remediation paused: 4 of 4 workspaces are failing"))
    }

    @Test("a converged workspace says so, and an unknown one is an error")
    func converged() async throws {
        let pool = try await TestDatabase.create(poolSize: 1)
        let id = try await Self.workspace(pool, "calm")
        try await Self.running(pool, id)
        try await pool.query(
            """
            UPDATE workspaces SET conditions = molecule_set_condition(molecule_set_condition(molecule_set_condition('{}',
                   '{"type": "InstanceReady", "status": "True", "reason": "Running", "message": ""}', now()),
                   '{"type": "BundleStaged", "status": "True", "reason": "Staged", "message": ""}', now()),
                   '{"type": "PluginsInstalled", "status": "True", "reason": "Installed", "message": ""}', now())
            """)
        for table in ["instances", "secret_bundles", "plugin_installs"] {
            try await pool.query("UPDATE \(table) SET observed_generation = desired_generation")
        }
        let explained = try Self.explain(pool, "calm")
        #expect(explained.reasons.values.allSatisfy { $0 == ["Converged"] }, "\(explained.text)")
        #expect(explained.text.contains("converged (phase running, Ready True)"))
        #expect(try OperatorCommandsTests.run(["explain", "ops/none"], pool).status == 1)
    }
}
