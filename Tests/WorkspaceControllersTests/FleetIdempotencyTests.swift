import ControllerHost
import Foundation
import Postgres
import PostgresTestSupport
import ProviderFakes
import Providers
import ReconcileStore
import Testing
import WorkspaceControllers
import WorkspaceModel
import WorkspaceStore

@Suite("all four controllers")
struct FleetIdempotencyTests {
    @Test(
        "idempotency: with all four controllers over a mixed fleet, a pass after convergence calls no mutating provider action and writes no row"
    )
    func checkIdempotentAllControllers() async throws {
        let pool = try await TestDatabase.create(poolSize: 8)
        let cloud = FakeCloud()
        let store = FakeSecretStore()
        let runtimes = FakeRuntimes()
        let tunnels = FakeTunnels()
        let driver = TickDriver(
            pool: pool,
            controllers: [
                .init(SecretsBundleReconciler(store: BundleStore(pool: pool), secretStore: store)),
                .init(InstancesReconciler(store: InstanceStore(pool: pool), provider: cloud, probe: runtimes)),
                .init(DeclaredPluginsReconciler(store: PluginStore(pool: pool), delivery: runtimes, probe: runtimes)),
                .init(TunnelIngressReconciler(store: IngressStore(pool: pool), writer: TunnelWriter(provider: tunnels))),
            ], logger: TestDatabase.logger)
        try await pool.query(
            #"INSERT INTO templates (name, files) VALUES ('t', '{"config.yaml": "a: 1", "prompts/p.md": "hi"}')"#)
        try await pool.query("INSERT INTO privileged_plugins (name) VALUES ('molecule-platform-mcp')")
        try await pool.query(
            """
            INSERT INTO workspaces (org, name, kind, template, image, desired_state) VALUES
              ('acme', 'agent', 'agent', 't', 'a:1', 'running'), ('acme', 'concierge', 'platform', 't', 'a:1', 'running'),
              ('acme', 'paused', 'agent', 't', 'a:1', 'stopped'), ('acme', 'gone', 'agent', 't', 'a:1', 'running'),
              ('acme', 'boot', 'agent', 't', 'a:1', 'running'), ('acme', 'unplugged', 'agent', 't', 'a:1', 'running')
            """)
        try await pool.query(
            """
            INSERT INTO workspace_declared_plugins (workspace_id, plugin, ref, requires_restart)
            SELECT id, p.plugin, p.ref, p.boot FROM workspaces w
              JOIN (VALUES ('agent', 'web-search', '2.3.0', false), ('concierge', 'molecule-platform-mcp', '1.6.1', false),
                           ('paused', 'web-search', '2.3.0', false), ('boot', 'vector-store', '3.0.0', true))
                   AS p(workspace, plugin, ref, boot) ON p.workspace = w.name
            """)
        try await pool.query(
            """
            INSERT INTO tenants (name, hostname, tunnel_id, services) VALUES
              ('acme', 'acme.example.com', 'tunnel-1', '{"platform": "http://10.0.0.1:8080", "app": "http://10.0.0.1:3000"}'),
              ('globex', 'globex.example.com', 'tunnel-1', '{"platform": "http://10.0.0.2:8080", "app": "http://10.0.0.2:3000"}'),
              ('broken', 'broken.example.com', 'tunnel-2', '{"app": "http://10.0.0.3:3000"}')
            """)
        try await pool.query("INSERT INTO platform_paths (pattern) VALUES ('/api/*'), ('/healthz')")
        let now = Date()
        for _ in 0..<4 {
            _ = try await driver.tickUntilConverged(now: now)
            await DeclaredPluginsTests.bootAll(cloud: cloud, store: store, runtimes: runtimes)
            _ = try await driver.tick(now: now, full: true)
        }
        try await pool.query("UPDATE workspaces SET desired_state = 'deleted' WHERE name = 'gone'")
        _ = try await driver.tickUntilConverged(now: now)
        let phases = try await pool.query("SELECT name, phase FROM workspaces ORDER BY name").rows
            .map { "\(try $0.require(String.self, "name"))=\(try $0.require(String.self, "phase"))" }
        #expect(
            phases == [
                "agent=running", "boot=running", "concierge=running", "gone=deleted", "paused=stopped", "unplugged=running",
            ])

        let report = try await driver.checkIdempotent(now: now)
        #expect(report.rowWrites.isEmpty, "\(report.rowWrites)")
        #expect(report.mutatingActions.isEmpty, "\(report.mutatingActions)")
        #expect(report.passed)
        // The tenant without a 'platform' service is not failed: the platform paths skip it alone,
        // and say why (once, so the check pass wrote nothing for it either).
        let broken = try await pool.query(
            """
            SELECT i.last_error, i.skipped_paths FROM tunnel_ingress i JOIN tenants t ON t.id = i.key WHERE t.name = 'broken'
            """
        ).rows[0]
        #expect(try broken.decode(String.self, "last_error") == nil)
        #expect(
            try broken.require(String.self, "skipped_paths")
                .contains("tenants.services: no URL for service 'platform' (needed by platform_paths.pattern '/healthz')"))
        #expect(report.check.controllers.count == 4)
    }
}
