import AdversarialCorpus
import ControllerHost
import Foundation
import Postgres
import PostgresTestSupport
import ProviderFakes
import Testing
import WorkspaceControllers
import WorkspaceStore

/// The adversarial corpus thrown at a live database: one poisoned write must never stall the
/// rest of the fleet.
@Suite("hostile writes beside a healthy fleet")
struct HostileWritesBesideFleetTests {
    static let t0 = Date(timeIntervalSince1970: 1_900_000_000)

    /// A fleet of its own beside the corpus's fixture rows (which are healthy workspaces too; its
    /// two tenants lack the `platform` service and fail alone): an org with an agent, a
    /// reviewer and a platform workspace, a template, org and workspace secrets, a tenant with
    /// every service, and a second platform path.
    static let fleet = [
        #"INSERT INTO templates (name, files) VALUES ('fleet', '{"config.yaml": "model: x", "prompts/system.md": "You are..."}')"#,
        """
        INSERT INTO workspaces (org, name, kind, template, image) VALUES
          ('initech', 'writer', 'agent', 'fleet', 'registry/agent:2'), ('initech', 'reviewer', 'agent', 'fleet', 'registry/agent:2'),
          ('initech', 'ops', 'platform', 'fleet', 'registry/platform:2')
        """,
        "INSERT INTO org_secrets (org, key, value) VALUES ('initech', 'SHARED_TOKEN', 'org-value')",
        "INSERT INTO workspace_secrets (workspace_id, key, value) SELECT id, 'OPENAI_API_KEY', 'sk-' || name FROM workspaces WHERE org = 'initech'",
        """
        INSERT INTO tenants (name, hostname, tunnel_id, services) VALUES
          ('initech', 'initech.example.com', 'tunnel-initech', '{"platform": "http://10.0.0.9:8080", "app": "http://10.0.0.9:3000"}')
        """,
        "INSERT INTO platform_paths (pattern, service, note) VALUES ('/healthz', 'platform', 'liveness')",
    ]

    /// Every instance on record reports ready, as the platform's heartbeat would.
    static func heartbeat(_ pool: PostgresPool, at now: Date) async throws {
        try await pool.query(
            """
            INSERT INTO workspace_runtime_status (workspace_id, instance_id, ready, reported_at)
            SELECT key, instance_id, true, $1 FROM instances WHERE instance_id IS NOT NULL
            ON CONFLICT (workspace_id) DO UPDATE SET instance_id = excluded.instance_id, ready = true, reported_at = excluded.reported_at
            """, [now])
    }

    @Test(
        "every hostile write is refused naming its column, and the healthy fleet beside it converges, runs and passes the idempotency check"
    )
    func corpusBesideFleet() async throws {
        let pool = try await HostileFixture.create(poolSize: 6)
        for statement in Self.fleet { try await pool.query(statement) }
        let secrets = FakeSecretStore()
        let tunnels = FakeTunnels()
        // No probe: the instances and plugins controllers read the heartbeats written below.
        let driver = TickDriver(
            pool: pool,
            controllers: [
                .init(SecretsBundleReconciler(store: BundleStore(pool: pool), secretStore: secrets)),
                .init(InstancesReconciler(store: InstanceStore(pool: pool), provider: FakeCloud())),
                .init(DeclaredPluginsReconciler(store: PluginStore(pool: pool), delivery: FakeRuntimes())),
                .init(TunnelIngressReconciler(store: IngressStore(pool: pool), writer: TunnelWriter(provider: tunnels))),
            ], logger: TestDatabase.logger)

        // The corpus lands on a fleet that is already converging.
        var now = Self.t0
        _ = try await driver.tick(now: now)
        for write in AdversarialCorpus.writes {
            let problems = try await write.attempt(on: pool)
            #expect(problems.isEmpty, "\(write.testDescription): \(problems)")
        }

        _ = try await driver.tickUntilConverged(now: now)
        for _ in 0..<3 {
            now += 60
            try await Self.heartbeat(pool, at: now)
            _ = try await driver.tick(now: now, full: true)
            _ = try await driver.tickUntilConverged(now: now)
        }

        let report = try await driver.checkIdempotent(now: now)
        #expect(report.rowWrites.isEmpty, "\(report.rowWrites)")
        #expect(report.mutatingActions.isEmpty, "\(report.mutatingActions)")
        #expect(report.check.failures.isEmpty, "\(report.check.failures)")
        #expect(report.passed)

        let workspaces = try await pool.query(
            """
            SELECT w.org || '/' || w.name AS name, w.phase, w.last_error, w.conditions -> 'Ready' ->> 'status' AS ready,
                   b.staged_generation = i.target_generation AS staged
              FROM workspaces w JOIN secret_bundles b ON b.key = w.id JOIN instances i ON i.key = w.id ORDER BY 1
            """
        ).rows
        #expect(
            try workspaces.map { try $0.require(String.self, "name") }
                == ["acme/concierge", "acme/seo", "initech/ops", "initech/reviewer", "initech/writer"])
        for row in workspaces {
            let name = try row.require(String.self, "name")
            #expect(try row.require(String.self, "phase") == "running", "\(name)")
            #expect(try row.decode(String.self, "last_error") == nil, "\(name)")
            #expect(try row.decode(String.self, "ready") == "True", "\(name)")
            #expect(try row.decode(Bool.self, "staged") == true, "\(name)")
        }
        let ingress = try await pool.query(
            """
            SELECT i.last_error, i.observed_generation = i.desired_generation AS converged
              FROM tunnel_ingress i JOIN tenants t ON t.id = i.key WHERE t.name = 'initech'
            """
        ).rows[0]
        #expect(try ingress.decode(String.self, "last_error") == nil)
        #expect(try ingress.require(Bool.self, "converged"))
        let rules = await tunnels.configurations["tunnel-initech"]?.rules(for: "initech.example.com").count ?? 0
        #expect(rules == 3, "/api/*, /healthz and the app rule")
    }
}
