import ControllerHost
import Foundation
import Logging
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

@Suite("instances controller")
struct InstancesTests {
    struct World {
        let pool: PostgresPool
        let cloud = FakeCloud()
        let store = FakeSecretStore()
        let workspace: String

        func driver(holder: String = ReconcilerHost.defaultHolder(), logger: Logger = TestDatabase.logger) -> TickDriver {
            TickDriver(
                pool: pool,
                controllers: [
                    .init(SecretsBundleReconciler(store: BundleStore(pool: pool), secretStore: store)),
                    .init(InstancesReconciler(store: InstanceStore(pool: pool), provider: cloud)),
                ], holder: holder, logger: logger)
        }

        func phase() async throws -> String {
            try await pool.query("SELECT phase FROM workspaces WHERE id = $1::uuid", [workspace]).rows[0].require(
                String.self, "phase")
        }
    }

    static func world() async throws -> World {
        let pool = try await TestDatabase.create(poolSize: 6)
        try await pool.query(
            #"INSERT INTO templates (name, files) VALUES ('seo-agent', '{"config.yaml": "a: 1", "prompts/p.md": "hi"}')"#)
        let id = try await pool.query(
            """
            INSERT INTO workspaces (org, name, template, image) VALUES ('acme', 'seo', 'seo-agent', 'agent:1') RETURNING id
            """
        ).rows[0].require(String.self, "id")
        return World(pool: pool, workspace: id)
    }

    @Test("a new workspace gets exactly one instance, after its bundle; a second pass does nothing")
    func convergesOnce() async throws {
        let world = try await Self.world()
        let report = try await world.driver().checkIdempotent()
        #expect(report.passed, "\(report.rowWrites) \(report.mutatingActions)")
        #expect(await world.cloud.launches == 1)
        let live = await world.cloud.live(workspaceID: world.workspace)
        #expect(live.count == 1 && live[0].generation == 1 && live[0].idempotencyToken == "\(world.workspace)-g1")
        #expect(try await world.phase() == "provisioning")
    }

    @Test("a restart terminates the old instance before creating the new one")
    func restartReplaces() async throws {
        let world = try await Self.world()
        _ = try await world.driver().tickUntilConverged()
        let old = await world.cloud.live(workspaceID: world.workspace)[0]
        try await world.pool.query(
            "UPDATE workspaces SET restart_requests = restart_requests + 1 WHERE id = $1::uuid", [world.workspace])
        _ = try await world.driver().tickUntilConverged()
        let live = await world.cloud.live(workspaceID: world.workspace)
        #expect(live.count == 1 && live[0].generation == 2 && live[0].id != old.id)
        #expect(await world.cloud.launches == 2)
        #expect(await world.cloud.terminations == 1)
    }

    @Test("a crash mid-create (the response lost) does not launch a duplicate")
    func lostResponse() async throws {
        let world = try await Self.world()
        await world.cloud.inject(.loseResponse, on: "create")
        await world.cloud.hideNewInstances(forListCalls: 1)
        let first = try await world.driver().tickUntilConverged()
        #expect(first.failures.map(\.reason) == ["ProviderTimeout"])
        // A new reconciler process, later: the instance is found or adopted through its token.
        _ = try await world.driver(holder: "restarted").tickUntilConverged(now: Date() + 3_600)
        #expect(await world.cloud.launches == 1)
        #expect(await world.cloud.live(workspaceID: world.workspace).count == 1)
    }

    @Test("seed 002: replicas, an operator restart and a remediation racing leave one instance, created once per generation")
    func singleFlight() async throws {
        let world = try await Self.world()
        _ = try await world.driver().tickUntilConverged()
        try await world.pool.query(
            "UPDATE workspaces SET restart_requests = restart_requests + 1 WHERE id = $1::uuid", [world.workspace])
        try await withThrowingTaskGroup(of: Void.self) { group in
            for replica in 0..<3 {
                group.addTask {
                    for _ in 0..<4 { _ = try await world.driver(holder: "replica-\(replica)").tick() }
                }
            }
            try await group.waitForAll()
        }
        _ = try await world.driver().tickUntilConverged()
        let live = await world.cloud.live(workspaceID: world.workspace)
        #expect(live.count == 1 && live[0].generation == 2)
        #expect(await world.cloud.launches == 2)
    }

    @Test("an extra instance found is terminated and reported")
    func extraInstance() async throws {
        let world = try await Self.world()
        _ = try await world.driver().tickUntilConverged()
        // Launched behind the reconciler's back (an old watchdog path, a person): same generation, another token.
        let other = await world.cloud.launchOutOfBand(workspaceID: world.workspace, generation: 1)
        _ = try await world.driver().tick(full: true)
        let live = await world.cloud.live(workspaceID: world.workspace)
        #expect(live.count == 1)
        #expect(live.allSatisfy { $0.id != other.id })
        let events = try await RecordedEvents.of(world.workspace, in: world.pool)
        #expect(events.contains { $0.reason == "DuplicateInstance" })
    }

    @Test("stopped terminates the instance and keeps the bundle; deleted terminates and marks the workspace deleted")
    func stopAndDelete() async throws {
        let world = try await Self.world()
        _ = try await world.driver().tickUntilConverged()
        try await world.pool.query("UPDATE workspaces SET desired_state = 'stopped' WHERE id = $1::uuid", [world.workspace])
        let stopped = try await world.driver().checkIdempotent()
        #expect(stopped.passed, "\(stopped.rowWrites) \(stopped.mutatingActions) \(stopped.check.failures)")
        #expect(await world.cloud.live(workspaceID: world.workspace).isEmpty)
        #expect(try await world.phase() == "stopped")
        let name = WorkspaceBundle.secretName(workspaceID: world.workspace)
        #expect(try await world.store.describe(name: name)?.scheduledForDeletion == false)
        try await world.pool.query("UPDATE workspaces SET desired_state = 'deleted' WHERE id = $1::uuid", [world.workspace])
        let deleted = try await world.driver().checkIdempotent()
        #expect(deleted.passed, "\(deleted.rowWrites) \(deleted.mutatingActions) \(deleted.check.failures)")
        #expect(try await world.phase() == "deleted")
        #expect(try await world.store.describe(name: name)?.scheduledForDeletion == true)
    }
}

@Suite("instances controller: lost instances")
struct LostInstanceTests {
    @Test("an instance that dies by itself is replaced by the next generation, with a fresh bundle")
    func replacedAfterCrash() async throws {
        let world = try await InstancesTests.world()
        _ = try await world.driver().tickUntilConverged()
        let first = await world.cloud.live(workspaceID: world.workspace)[0]
        try await world.cloud.terminate(instanceID: first.id)
        _ = try await world.driver().tick(full: true)
        _ = try await world.driver().tickUntilConverged()
        let live = await world.cloud.live(workspaceID: world.workspace)
        #expect(live.count == 1 && live[0].generation == 2)
        let events = try await RecordedEvents.of(world.workspace, in: world.pool)
        #expect(events.contains { $0.reason == "InstanceLost" })
    }
}
