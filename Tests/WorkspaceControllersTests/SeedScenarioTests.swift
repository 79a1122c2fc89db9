import ControllerHost
import Foundation
import Postgres
import PostgresTestSupport
import ProviderFakes
import ReconcileStore
import Testing
import WorkspaceControllers
import WorkspaceModel
import WorkspaceStore

/// The incidents of `docs/INCIDENTS.md` (seeds 000-004), replayed against the controllers.
@Suite("seed scenarios")
struct SeedScenarioTests {
    static let t0 = Date(timeIntervalSince1970: 1_900_000_000)

    @Test("seed 004: after every kind of restart the staged bundle is the one derived from the template and secrets")
    func seed004BundleAfterEveryRestart() async throws {
        let world = try await InstancesTests.world()
        try await world.pool.query("UPDATE workspaces SET kind = 'platform' WHERE id = $1::uuid", [world.workspace])
        try await world.pool.query(
            "INSERT INTO workspace_secrets (workspace_id, key, value) VALUES ($1::uuid, 'API_KEY', 'k1')", [world.workspace])
        _ = try await world.driver().tickUntilConverged(now: Self.t0)
        let name = WorkspaceBundle.secretName(workspaceID: world.workspace)
        func bundle() async -> String { String(decoding: await world.store.peek(name: name) ?? Data(), as: UTF8.self) }
        func expectFull(_ generation: Int) async {
            let text = await bundle()
            #expect(text.contains(#""config.yaml":"a: 1""#), "generation \(generation)")
            #expect(text.contains(#""prompts/p.md":"hi""#), "generation \(generation)")
            #expect(text.contains(#""API_KEY":"k1""#), "generation \(generation)")
            #expect(text.contains("\"instance_generation\":\"\(generation)\""), "generation \(generation)")
        }
        await expectFull(1)
        // An operator's restart.
        try await world.pool.query(
            "UPDATE workspaces SET restart_requests = restart_requests + 1 WHERE id = $1::uuid", [world.workspace])
        _ = try await world.driver().tickUntilConverged(now: Self.t0 + 10)
        await expectFull(2)
        // An image change.
        try await world.pool.query("UPDATE workspaces SET image = 'agent:2' WHERE id = $1::uuid", [world.workspace])
        _ = try await world.driver().tickUntilConverged(now: Self.t0 + 20)
        await expectFull(3)
        // A remediation of the failed platform workspace (no heartbeat for ten minutes).
        _ = try await world.driver().tick(now: Self.t0 + 700, full: true)
        _ = try await world.driver().tickUntilConverged(now: Self.t0 + 760)
        await expectFull(4)
        #expect(await world.cloud.live(workspaceID: world.workspace).map(\.generation) == [4])
    }

    @Test(
        "idempotency: a converged mixed fleet (running, stopped, deleted, failed with its budget spent) makes no change on another pass"
    )
    func idempotentMixedFleet() async throws {
        let world = try await InstancesTests.world()
        try await world.pool.query(
            """
            INSERT INTO workspaces (org, name, kind, template, image, desired_state)
            VALUES ('acme', 'stopped', 'agent', 'seo-agent', 'agent:1', 'stopped'),
                   ('acme', 'deleted', 'agent', 'seo-agent', 'agent:1', 'running'),
                   ('acme', 'broken', 'platform', 'seo-agent', 'agent:1', 'running'),
                   ('globex', 'a', 'agent', 'seo-agent', 'agent:1', 'running'),
                   ('globex', 'b', 'agent', 'seo-agent', 'agent:1', 'running'),
                   ('globex', 'c', 'agent', 'seo-agent', 'agent:1', 'running')
            """)
        var now = Self.t0
        _ = try await world.driver().tickUntilConverged(now: now)
        try await world.pool.query("UPDATE workspaces SET desired_state = 'deleted' WHERE name = 'deleted'")
        // Every healthy instance reports; 'broken' never does and exhausts its remediations.
        for _ in 0..<8 {
            now += 3_600
            try await world.pool.query(
                """
                INSERT INTO workspace_runtime_status (workspace_id, instance_id, ready, reported_at)
                SELECT i.key, i.instance_id, true, $1 FROM instances i JOIN workspaces w ON w.id = i.key
                 WHERE w.name <> 'broken' AND i.instance_id IS NOT NULL
                ON CONFLICT (workspace_id) DO UPDATE SET instance_id = excluded.instance_id, reported_at = excluded.reported_at
                """, [now])
            _ = try await world.driver().tick(now: now, full: true)
            _ = try await world.driver().tickUntilConverged(now: now)
        }
        let phases = try await world.pool.query("SELECT name, phase FROM workspaces ORDER BY name").rows
            .map { "\(try $0.require(String.self, "name"))=\(try $0.require(String.self, "phase"))" }
        #expect(phases.contains("broken=failed") && phases.contains("stopped=stopped") && phases.contains("deleted=deleted"))
        #expect(phases.contains("seo=running") && phases.contains("a=running"))
        let report = try await world.driver().checkIdempotent(now: now)
        #expect(report.rowWrites.isEmpty, "\(report.rowWrites)")
        #expect(report.mutatingActions.isEmpty, "\(report.mutatingActions)")
    }

    @Test(
        "seed 000: a provision that fails after a restart shows last_error, a condition and a Warning event in the same pass, and is retried with backoff"
    )
    func seed000ProvisionFailureAfterRestart() async throws {
        let world = try await InstancesTests.world()
        _ = try await world.driver().tickUntilConverged(now: Self.t0)
        let launchesBefore = await world.cloud.launches
        await world.cloud.inject(.error(.transient), on: "create", times: 2)
        try await world.pool.query(
            "UPDATE workspaces SET restart_requests = restart_requests + 1 WHERE id = $1::uuid", [world.workspace])

        // One pass: the old instance goes, the new launch fails — and says so at once.
        let t1 = Self.t0 + 10
        let pass = try await world.driver().tickUntilConverged(now: t1)
        #expect(pass.failures.contains { $0.controller == "instances" && $0.message.contains("injected") && !$0.terminal })
        let row = try await world.pool.query(
            """
            SELECT w.last_error, w.last_error_at, w.conditions -> 'InstanceReady' ->> 'status' AS ready,
                   i.attempts, extract(epoch FROM i.next_attempt_at - $2::timestamptz)::float8 AS wait
              FROM workspaces w JOIN instances i ON i.key = w.id WHERE w.id = $1::uuid
            """, [world.workspace, t1]
        ).rows[0]
        // The provider's error already names the instances boundary: the controller's prefix is not added twice.
        #expect(try row.decode(String.self, "last_error") == "instances: create: injected transient")
        #expect(try row.decode(Date.self, "last_error_at") == t1)
        #expect(try row.decode(String.self, "ready") == "False")
        #expect(try row.require(Int.self, "attempts") == 1)
        let wait = try row.require(Double.self, "wait")
        #expect(wait >= 1 && wait <= 1.5, "first retry after ~1 s, got \(wait)")
        let events = try await RecordedEvents.of(world.workspace, in: world.pool)
        #expect(events.contains { $0.type == .warning && $0.controller == "instances" && $0.message.contains("injected") })
        #expect(await world.cloud.live(workspaceID: world.workspace).isEmpty)

        // Within the backoff nothing is attempted, however often a pass runs (or the reconciler restarts).
        for _ in 0..<3 {
            let early = try await world.driver().tick(now: t1 + 0.5)
            #expect(early.controllers["instances"]?.reconciled == 0)
        }
        // The retries follow the backoff: a second failure doubles it, the third attempt launches.
        _ = try await world.driver().tick(now: t1 + 2)
        let second = try await world.pool.query(
            """
            SELECT attempts, extract(epoch FROM next_attempt_at - $2::timestamptz)::float8 AS wait FROM instances WHERE key = $1::uuid
            """, [world.workspace, t1 + 2]
        ).rows[0]
        #expect(try second.require(Int.self, "attempts") == 2)
        #expect(try second.require(Double.self, "wait") >= 2)
        _ = try await world.driver().tickUntilConverged(now: t1 + 10)
        #expect(await world.cloud.launches == launchesBefore + 1)
        #expect(await world.cloud.live(workspaceID: world.workspace).map(\.generation) == [2])
        let healed = try await world.pool.query("SELECT last_error FROM workspaces WHERE id = $1::uuid", [world.workspace]).rows[
            0]
        #expect(try healed.decode(String.self, "last_error") == nil)
        #expect(
            try await RecordedEvents.of(world.workspace, in: world.pool)
                .contains { $0.type == .normal && $0.reason == "Reconciled" && $0.message.contains("2 failed attempt(s)") })
    }
}
