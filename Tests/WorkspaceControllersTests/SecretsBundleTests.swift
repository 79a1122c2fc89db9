import ControllerHost
import Foundation
import Postgres
import PostgresTestSupport
import ProviderFakes
import Providers
import ReconcileRuntime
import ReconcileStore
import Testing
import WorkspaceControllers
import WorkspaceModel
import WorkspaceStore

@Suite("secrets-bundle controller")
struct SecretsBundleTests {
    struct World {
        let pool: PostgresPool
        let store = FakeSecretStore()
        let workspace: String
        var driver: TickDriver {
            TickDriver(
                pool: pool, controllers: [.init(SecretsBundleReconciler(store: BundleStore(pool: pool), secretStore: store))],
                logger: TestDatabase.logger)
        }

        func bundleText() async -> String {
            await store.peek(name: WorkspaceBundle.secretName(workspaceID: workspace))
                .map { String(decoding: $0, as: UTF8.self) } ?? ""
        }

        func workspaceStatus() async throws -> (lastError: String?, condition: [String: String]?) {
            let row = try await pool.query(
                "SELECT last_error, conditions -> 'BundleStaged' AS c FROM workspaces WHERE id = $1::uuid",
                [workspace]
            ).rows[0]
            return (try row.decode(String.self, "last_error"), try row.decodeJSON([String: String].self, "c"))
        }
    }

    static func world() async throws -> World {
        let pool = try await TestDatabase.create()
        let files = #"{"config.yaml": "model: m\n", "prompts/system.md": "You are the SEO agent."}"#
        try await pool.query("INSERT INTO templates (name, files) VALUES ('seo-agent', $1::jsonb)", [files])
        let id = try await pool.query(
            """
            INSERT INTO workspaces (org, name, template, image) VALUES ('acme', 'seo', 'seo-agent', 'agent:1') RETURNING id
            """
        ).rows[0].require(String.self, "id")
        try await pool.query(
            "INSERT INTO workspace_secrets (workspace_id, key, value) VALUES ($1::uuid, 'API_KEY', 'sk-live-123')", [id])
        try await pool.query("INSERT INTO org_secrets (org, key, value) VALUES ('acme', 'ORG_TOKEN', 'org-456')")
        return World(pool: pool, workspace: id)
    }

    @Test("the bundle carries config.yaml, prompts, secrets and the generation's token; a second pass does nothing")
    func stagesIdempotently() async throws {
        let world = try await Self.world()
        let report = try await world.driver.checkIdempotent()
        #expect(report.passed, "\(report.rowWrites) \(report.mutatingActions)")
        #expect(report.converge.actions.mutating == ["secret_store.put": 1])
        let text = await world.bundleText()
        #expect(text.contains("config.yaml") && text.contains("prompts/system.md") && text.contains("You are the SEO agent."))
        #expect(text.contains("sk-live-123") && text.contains("org-456"))
        let status = try await world.workspaceStatus()
        #expect(status.lastError == nil)
        #expect(status.condition?["status"] == "True")
        let staged = try await world.pool.query("SELECT staged_generation, staged_hash FROM secret_bundles").rows[0]
        #expect(try staged.decode(Int64.self, "staged_generation") == 1)
        #expect(try staged.decode(String.self, "staged_hash")?.count == 64)
    }

    @Test("seed 003: after a restart the bundle holds a new token, and the old one is gone")
    func restartMintsNewToken() async throws {
        let world = try await Self.world()
        _ = try await world.driver.tickUntilConverged()
        let before = await world.bundleText()
        try await world.pool.query(
            "UPDATE workspaces SET restart_requests = restart_requests + 1 WHERE id = $1::uuid", [world.workspace])
        _ = try await world.driver.tickUntilConverged()
        let after = await world.bundleText()
        let oldToken = try #require(Self.token(in: before))
        let newToken = try #require(Self.token(in: after))
        #expect(oldToken != newToken)
        #expect(!after.contains(oldToken))
        #expect(after.contains("\"instance_generation\":\"2\""))
        #expect(after.contains("prompts/system.md"))
    }

    @Test("the deprovision/provision race: a name scheduled for deletion is restored and rewritten")
    func restoresScheduledForDeletion() async throws {
        let world = try await Self.world()
        _ = try await world.driver.tickUntilConverged()
        let name = WorkspaceBundle.secretName(workspaceID: world.workspace)
        try await world.store.delete(name: name, recoveryWindowDays: 7)
        try await world.pool.query(
            "UPDATE workspaces SET restart_requests = restart_requests + 1 WHERE id = $1::uuid", [world.workspace])
        let summary = try await world.driver.tickUntilConverged()
        #expect(summary.failures.isEmpty)
        #expect(summary.actions.mutating["secret_store.restore"] == 1)
        #expect(try await world.store.describe(name: name)?.scheduledForDeletion == false)
        #expect(await world.bundleText().contains("\"instance_generation\":\"2\""))
        let events = try await RecordedEvents.of(world.workspace, in: world.pool)
        #expect(events.contains { $0.type == .normal && $0.reason == "BundleRestored" })
        #expect(try await world.driver.checkIdempotent().passed)
    }

    @Test("a deleted workspace's bundle is scheduled for deletion, said once by a Normal event")
    func deletionIsAnEvent() async throws {
        let world = try await Self.world()
        _ = try await world.driver.tickUntilConverged()
        try await world.pool.query("UPDATE workspaces SET desired_state = 'deleted' WHERE id = $1::uuid", [world.workspace])
        _ = try await world.driver.tickUntilConverged()
        let name = WorkspaceBundle.secretName(workspaceID: world.workspace)
        #expect(try await world.store.describe(name: name)?.scheduledForDeletion == true)
        let deleted = try await RecordedEvents.of(world.workspace, in: world.pool).filter { $0.reason == "BundleDeleted" }
        #expect(deleted.count == 1 && deleted.first?.type == .normal && deleted.first?.count == 1)
        #expect(deleted.first?.message.contains("recovery window 7 days") == true)
    }

    @Test("a template file that may not be delivered fails the workspace clearly and is not retried")
    func invalidTemplate() async throws {
        let world = try await Self.world()
        // The schema refuses such a template at write time (0008); one that got in anyway (written
        // before that rule, or with the trigger disabled) still fails only its workspaces.
        try await world.pool.query("ALTER TABLE templates DISABLE TRIGGER templates_validate")
        try await world.pool.query(#"UPDATE templates SET files = '{"config.yaml": "a: 1", "../escape.sh": "rm -rf /"}'"#)
        try await world.pool.query("ALTER TABLE templates ENABLE TRIGGER templates_validate")
        let summary = try await world.driver.tick()
        #expect(summary.failures.first?.terminal == true)
        let status = try await world.workspaceStatus()
        #expect(
            status.lastError
                == "secret_bundles: template 'seo-agent': template file '../escape.sh': the path escapes the template directory")
        #expect(status.condition?["reason"] == "InvalidTemplate")
        let events = try await RecordedEvents.of(world.workspace, in: world.pool)
        #expect(events.first?.type == .warning && events.first?.reason == "InvalidTemplate")
        #expect(try await world.driver.tick().examined == 0)
        try await world.pool.query(#"UPDATE templates SET files = '{"config.yaml": "a: 1"}'"#)
        _ = try await world.driver.tickUntilConverged()
        #expect(try await world.workspaceStatus().lastError == nil)
    }

    @Test("a throttled secret store is retried with backoff, surfaced in the same pass, and cleared on success")
    func throttledThenRecovers() async throws {
        let world = try await Self.world()
        await world.store.inject(.throttle(.seconds(30)), on: "put")
        let t0 = Date(timeIntervalSince1970: 1_800_000_000)
        let first = try await world.driver.tick(now: t0)
        #expect(first.failures.first?.reason == "ProviderThrottled")
        let failing = try await world.workspaceStatus()
        #expect(failing.lastError?.hasPrefix("secret_bundles: secret store: put: rate exceeded") == true)
        #expect(try await world.driver.tick(now: t0 + 10).reconciled == 0)
        let later = try await world.driver.tick(now: t0 + 31)
        #expect(later.controllers["secret_bundles"]?.succeeded == 1)
        #expect(try await world.workspaceStatus().lastError == nil)
        #expect(
            !(try await world.pool.query("SELECT last_error FROM workspaces").rows[0].decode(String.self, "last_error") ?? "")
                .contains("sk-live"))
    }

    @Test("deleting a key the runtime does not consume restages without changing what the runtime sees")
    func nonConsumedDeletion() async throws {
        let world = try await Self.world()
        try await world.pool.query(
            "INSERT INTO workspace_secrets (workspace_id, key, value, runtime_consumed) VALUES ($1::uuid, 'TEST_SECRET', 'x', false)",
            [world.workspace])
        _ = try await world.driver.tickUntilConverged()
        let before = try await world.pool.query("SELECT staged_hash, staged_runtime_hash FROM secret_bundles").rows[0]
        try await world.pool.query("DELETE FROM workspace_secrets WHERE key = 'TEST_SECRET'")
        _ = try await world.driver.tickUntilConverged()
        let after = try await world.pool.query("SELECT staged_hash, staged_runtime_hash FROM secret_bundles").rows[0]
        #expect(try before.decode(String.self, "staged_hash") != after.decode(String.self, "staged_hash"))
        #expect(try before.decode(String.self, "staged_runtime_hash") == after.decode(String.self, "staged_runtime_hash"))
    }

    static func token(in text: String) -> String? {
        guard let range = text.range(of: #""instance_token":""#) else { return nil }
        return String(text[range.upperBound...].prefix(64))
    }
}
