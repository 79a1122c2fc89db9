import ControllerHost
import Foundation
import LocalProviders
import Postgres
import PostgresTestSupport
import ReconcileStore
import Testing
import WorkspaceControllers
import WorkspaceModel
import WorkspaceStore

/// The embedded default end to end: real runtime processes, real bundle files, a real PostgreSQL.
@Suite("local providers end to end")
struct LocalFleetTests {
    @Test(
        "a workspace converges to a running runtime process that loaded its bundle; a second pass does nothing; stopping ends the process"
    )
    func localWorkspace() async throws {
        let pool = try await TestDatabase.create()
        let state = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("local-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: state) }
        let secrets = FileSecretStore(root: state.appendingPathComponent("secrets"))
        let runtime = Bundle.main.executableURL!.deletingLastPathComponent().appendingPathComponent("molecule-workspace-runtime")
        let processes = LocalProcessProvider(
            directory: state.appendingPathComponent("instances"), runtimeExecutable: runtime,
            secretStoreRoot: secrets.root)
        let driver = TickDriver(
            pool: pool,
            controllers: [
                .init(SecretsBundleReconciler(store: BundleStore(pool: pool), secretStore: secrets)),
                .init(InstancesReconciler(store: InstanceStore(pool: pool), provider: processes, probe: HTTPRuntimeProbe())),
            ], logger: TestDatabase.logger)
        try await pool.query(
            #"INSERT INTO templates (name, files) VALUES ('t', '{"config.yaml": "a: 1", "prompts/p.md": "hi"}')"#)
        let id = try await pool.query(
            "INSERT INTO workspaces (org, name, template, image) VALUES ('o', 'w', 't', 'local') RETURNING id"
        )
        .rows[0].require(String.self, "id")
        _ = try await driver.tickUntilConverged()
        var phase = ""
        for _ in 0..<200 where phase != "running" {
            _ = try await driver.tick(full: true)
            phase = try await pool.query("SELECT phase FROM workspaces WHERE id = $1::uuid", [id]).rows[0].require(
                String.self, "phase")
            if phase != "running" { try await Task.sleep(for: .milliseconds(25)) }
        }
        #expect(phase == "running")
        let live = try await processes.list(workspaceID: id).filter { $0.state == .running }
        #expect(live.count == 1)
        let report = try await driver.checkIdempotent()
        #expect(report.passed, "\(report.rowWrites) \(report.mutatingActions)")
        try await pool.query("UPDATE workspaces SET desired_state = 'stopped' WHERE id = $1::uuid", [id])
        _ = try await driver.tickUntilConverged()
        #expect(try await processes.list(workspaceID: id).allSatisfy { $0.state == .terminated })
    }
}
