import ControllerHost
import Foundation
import LocalProviders
import Postgres
import PostgresTestSupport
import ProviderFakes
import Providers
import ReconcileRuntime
import ReconcileStore
import Synchronization
import Testing
import WorkspaceControllers
import WorkspaceModel
import WorkspaceStore

@Suite("orphan sweeper")
struct OrphanSweeperTests {
    @Test(
        "an instance whose workspace row was deleted is terminated once, with an event; other owners' instances are never touched"
    )
    func collectsOrphans() async throws {
        let pool = try await TestDatabase.create(poolSize: 4)
        let cloud = FakeCloud()
        let store = FakeSecretStore()
        try await pool.query(#"INSERT INTO templates (name, files) VALUES ('t', '{"config.yaml": "a: 1"}')"#)
        let ids = try await pool.query(
            """
            INSERT INTO workspaces (org, name, template, image)
            VALUES ('acme', 'kept', 't', 'agent:1'), ('acme', 'gone', 't', 'agent:1'), ('acme', 'leaving', 't', 'agent:1')
            RETURNING id, name
            """
        ).rows.reduce(into: [String: String]()) { $0[try $1.require(String.self, "name")] = try $1.require(String.self, "id") }
        let sweeper = OrphanSweeper(
            instances: InstanceStore(pool: pool), events: EventStore(pool: pool), provider: cloud, owner: "pg:test")
        let driver = TickDriver(
            pool: pool,
            controllers: [
                .init(SecretsBundleReconciler(store: BundleStore(pool: pool), secretStore: store)),
                .init(InstancesReconciler(store: InstanceStore(pool: pool), provider: cloud, owner: "pg:test")),
            ], sweepers: [sweeper], logger: TestDatabase.logger)
        _ = try await driver.tickUntilConverged()
        // Another database's fleet in the same account: never ours to collect.
        let foreign = try await cloud.create(
            .init(
                workspaceID: UUID().uuidString.lowercased(), generation: 1, image: "x",
                bundleName: "b", owner: "pg:other"))
        #expect(await cloud.live(workspaceID: ids["gone"]!).count == 1)

        try await pool.query("DELETE FROM workspaces WHERE id = $1::uuid", [ids["gone"]!])
        try await pool.query("UPDATE workspaces SET desired_state = 'deleted' WHERE id = $1::uuid", [ids["leaving"]!])
        let pass = try await driver.tickUntilConverged()
        #expect(pass.failures.isEmpty)
        #expect(await cloud.live(workspaceID: ids["gone"]!).isEmpty)
        #expect(await cloud.live(workspaceID: ids["leaving"]!).isEmpty)
        #expect(await cloud.live(workspaceID: ids["kept"]!).count == 1)
        #expect(await cloud.live(workspaceID: foreign.workspaceID).count == 1)
        let events = try await RecordedEvents.of(ids["gone"]!, in: pool)
        #expect(events.contains { $0.reason == "OrphanTerminated" && $0.type == .warning })

        let check = try await driver.checkIdempotent()
        #expect(check.passed, "\(check.rowWrites) \(check.mutatingActions)")
        #expect(await cloud.terminations == 2)
    }

    @Test("a failing provider list is reported in the pass summary, not swallowed")
    func listFailureSurfaces() async throws {
        let pool = try await TestDatabase.create(poolSize: 2)
        let cloud = FakeCloud()
        await cloud.inject(.error(.transient), on: "list")
        let driver = TickDriver(
            pool: pool, controllers: [],
            sweepers: [
                OrphanSweeper(
                    instances: InstanceStore(pool: pool), events: EventStore(pool: pool), provider: cloud, owner: "pg:test")
            ],
            logger: TestDatabase.logger)
        let pass = try await driver.tick()
        #expect(pass.failures.map(\.controller) == ["orphan_instances"])
        #expect(pass.failures.first?.message.contains("injected") == true)
    }

    @Test("the bundle of a workspace deleted outright is scheduled for deletion once, with an event, and purged after the window")
    func collectsOrphanBundles() async throws {
        let pool = try await TestDatabase.create(poolSize: 4)
        let state = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("bundles-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: state) }
        let clock = TestClock()
        let store = FileSecretStore(root: state, clock: { clock.now })
        try await pool.query(#"INSERT INTO templates (name, files) VALUES ('t', '{"config.yaml": "a: 1"}')"#)
        let ids = try await pool.query(
            """
            INSERT INTO workspaces (org, name, template, image) VALUES ('acme', 'kept', 't', 'agent:1'), ('acme', 'gone', 't', 'agent:1')
            RETURNING id, name
            """
        ).rows.reduce(into: [String: String]()) { $0[try $1.require(String.self, "name")] = try $1.require(String.self, "id") }
        let sweeper = OrphanBundleSweeper(
            secretStore: store, workspaces: InstanceStore(pool: pool), events: EventStore(pool: pool))
        let driver = TickDriver(
            pool: pool, controllers: [.init(SecretsBundleReconciler(store: BundleStore(pool: pool), secretStore: store))],
            sweepers: [sweeper], logger: TestDatabase.logger)
        _ = try await driver.tickUntilConverged()
        let gone = WorkspaceBundle.secretName(workspaceID: ids["gone"]!)
        #expect(try await store.describe(name: gone) != nil)

        try await pool.query("DELETE FROM workspaces WHERE id = $1::uuid", [ids["gone"]!])
        let pass = try await driver.tick()
        #expect(pass.actions.mutating["secret_store.delete"] == 1)
        #expect(try await store.describe(name: gone)?.scheduledForDeletion == true)
        #expect(
            try await store.describe(name: WorkspaceBundle.secretName(workspaceID: ids["kept"]!))?.scheduledForDeletion == false)
        #expect(try await RecordedEvents.of(ids["gone"]!, in: pool).contains { $0.reason == "BundleDeleted" })
        // Once scheduled, a sweep does nothing more; after the window the store has purged it.
        #expect(try await driver.tick().actions.mutating.isEmpty)
        clock.advance(by: 8 * 86_400)
        _ = try await driver.tick()
        #expect(
            try await store.list(prefix: WorkspaceBundle.secretNamePrefix) == [
                WorkspaceBundle.secretName(workspaceID: ids["kept"]!)
            ])
    }
}

/// A wall clock that moves only when the test says.
final class TestClock: Sendable {
    private let time = Mutex(Date())
    var now: Date { time.withLock { $0 } }
    func advance(by seconds: TimeInterval) { time.withLock { $0 += seconds } }
}
