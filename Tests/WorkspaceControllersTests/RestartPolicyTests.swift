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

/// Seed 000: restarts that do not hurt.
@Suite("seed 000: secret changes and restarts")
struct RestartPolicyTests {
    static let later = Date() + 120

    static func world(kind: String = "agent") async throws -> InstancesTests.World {
        let world = try await InstancesTests.world()
        try await world.pool.query("UPDATE workspaces SET kind = $2 WHERE id = $1::uuid", [world.workspace, kind])
        _ = try await world.driver().tickUntilConverged(now: later)
        return world
    }

    static func heartbeat(_ world: InstancesTests.World, busy: Bool) async throws {
        let instance = await world.cloud.live(workspaceID: world.workspace)[0].id
        try await world.pool.query(
            """
            INSERT INTO workspace_runtime_status (workspace_id, instance_id, ready, busy_since)
            VALUES ($1::uuid, $2, true, CASE WHEN $3 THEN now() END)
            ON CONFLICT (workspace_id) DO UPDATE SET instance_id = excluded.instance_id, busy_since = excluded.busy_since
            """, [world.workspace, instance, busy])
    }

    static func restartPending(_ world: InstancesTests.World) async throws -> Bool {
        try await world.pool.query("SELECT restart_pending FROM workspaces WHERE id = $1::uuid", [world.workspace])
            .rows[0].require(Bool.self, "restart_pending")
    }

    @Test("an operator's change to a runtime-consumed secret restarts an idle agent once")
    func consumedChangeRestarts() async throws {
        let world = try await Self.world()
        try await world.pool.query(
            "INSERT INTO workspace_secrets (workspace_id, key, value) VALUES ($1::uuid, 'API_KEY', 'v2')", [world.workspace])
        _ = try await world.driver().tickUntilConverged(now: Self.later + 60)
        #expect(await world.cloud.launches == 2)
        #expect(await world.cloud.live(workspaceID: world.workspace).map(\.generation) == [2])
        #expect(try await Self.restartPending(world) == false)
        #expect(try await world.driver().checkIdempotent(now: Self.later + 120).passed)
    }

    @Test("a platform workspace writing its own secret mid-turn is not restarted: restart_pending instead, until asked")
    func platformSelfWriteMidTurn() async throws {
        let world = try await Self.world(kind: "platform")
        try await Self.heartbeat(world, busy: true)
        try await world.pool.query(
            """
            INSERT INTO workspace_secrets (workspace_id, key, value, written_by) VALUES ($1::uuid, 'TEST_SECRET', 'x', 'workspace:' || $1)
            """, [world.workspace])
        _ = try await world.driver().tickUntilConverged(now: Self.later + 60)
        #expect(await world.cloud.launches == 1)
        #expect(await world.cloud.terminations == 0)
        #expect(try await Self.restartPending(world))
        try await world.pool.query(
            "UPDATE workspaces SET restart_requests = restart_requests + 1 WHERE id = $1::uuid", [world.workspace])
        _ = try await world.driver().tickUntilConverged(now: Self.later + 120)
        #expect(await world.cloud.launches == 2)
        #expect(try await Self.restartPending(world) == false)
    }

    @Test("deleting a key the runtime does not consume never restarts")
    func nonConsumedDeleteDoesNotRestart() async throws {
        let world = try await Self.world()
        try await world.pool.query(
            """
            INSERT INTO workspace_secrets (workspace_id, key, value, runtime_consumed) VALUES ($1::uuid, 'TEST_APPROVAL_SECRET', 'x', false)
            """, [world.workspace])
        _ = try await world.driver().tickUntilConverged(now: Self.later + 60)
        try await world.pool.query("DELETE FROM workspace_secrets WHERE key = 'TEST_APPROVAL_SECRET'")
        _ = try await world.driver().tickUntilConverged(now: Self.later + 120)
        #expect(await world.cloud.launches == 1)
        #expect(await world.cloud.terminations == 0)
        #expect(try await Self.restartPending(world) == false)
    }

    @Test("a turn in progress defers an agent's restart; the turn's end lets it happen")
    func busyTurnDefers() async throws {
        let world = try await Self.world()
        try await Self.heartbeat(world, busy: true)
        try await world.pool.query("INSERT INTO org_secrets (org, key, value) VALUES ('acme', 'SHARED', 'v1')")
        _ = try await world.driver().tickUntilConverged(now: Self.later + 60)
        #expect(await world.cloud.launches == 1)
        #expect(try await Self.restartPending(world))
        try await Self.heartbeat(world, busy: false)
        _ = try await world.driver().tickUntilConverged(now: Self.later + 90)
        #expect(await world.cloud.launches == 2)
        #expect(try await Self.restartPending(world) == false)
    }
}

@Suite("seed 000: org-wide changes")
struct FanOutRestartTests {
    @Test("an org-wide secret change restarts the org's agents at a bounded rate")
    func pacedFanOut() async throws {
        let world = try await InstancesTests.world()
        try await world.pool.query(
            """
            INSERT INTO workspaces (org, name, template, image) SELECT 'acme', 'w' || g, 'seo-agent', 'agent:1' FROM generate_series(1, 9) g
            """)
        let pacer = RestartPacer(rate: 0.1, burst: 3)
        func driver() -> TickDriver {
            TickDriver(
                pool: world.pool,
                controllers: [
                    .init(SecretsBundleReconciler(store: BundleStore(pool: world.pool), secretStore: world.store)),
                    .init(InstancesReconciler(store: InstanceStore(pool: world.pool), provider: world.cloud, pacer: pacer)),
                ], logger: TestDatabase.logger)
        }
        let t0 = Date(timeIntervalSince1970: 1_900_000_000)
        _ = try await driver().tickUntilConverged(now: t0)
        #expect(await world.cloud.launches == 10)
        try await world.pool.query("INSERT INTO org_secrets (org, key, value) VALUES ('acme', 'SHARED_TOKEN', 'v2')")
        _ = try await driver().tickUntilConverged(now: t0 + 60)
        #expect(await world.cloud.launches == 13)
        // One token per 10 s, at most 3 saved: every 30 s at most three more restart.
        var now = t0 + 60
        var previous = await world.cloud.launches
        while previous < 20 {
            now += 30
            _ = try await driver().tick(now: now, full: true)
            _ = try await driver().tickUntilConverged(now: now)
            let launches = await world.cloud.launches
            #expect(launches - previous <= 3)
            #expect(launches > previous, "no progress at \(now)")
            if launches == previous { break }
            previous = launches
        }
        #expect(await world.cloud.launches == 20)
    }
}
