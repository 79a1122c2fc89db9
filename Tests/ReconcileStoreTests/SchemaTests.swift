import Foundation
import Logging
import Postgres
import PostgresTestSupport
import ReconcileStore
import SchemaManifests
import Testing

@Suite("schema and migrations")
struct SchemaTests {
    @Test("migrating from empty applies every file once; running again is a no-op")
    func migrateFromEmpty() async throws {
        let conninfo = try await TestDatabase.createEmpty()
        let pool = PostgresPool(configuration: .init(conninfo: conninfo), size: 2)
        let migrator = try Migrator(pool: pool, logger: TestDatabase.logger)
        await #expect(throws: Migrator.SchemaError.self) { try await migrator.verify() }
        // Two replicas starting together: the advisory lock serialises them.
        async let first = migrator.migrate()
        async let second = Migrator(pool: PostgresPool(configuration: pool.configuration, size: 1), logger: TestDatabase.logger)
            .migrate()
        let applied = try await first + second
        #expect(applied.sorted() == (try SchemaManifests.migrations().map(\.name)))
        #expect(applied.count >= 8 && applied.count == Set(applied).count)
        #expect(try await migrator.migrate().isEmpty)
        try await migrator.verify()
    }

    @Test("an edited migration is refused")
    func editedMigration() async throws {
        let pool = try await TestDatabase.create(poolSize: 1)
        let tampered = try SchemaManifests.migrations().map { migration in
            migration.name == "0002_spec_tables" ? .init(name: migration.name, sql: migration.sql + "\n-- edited") : migration
        }
        let migrator = try Migrator(pool: pool, migrations: tampered, logger: TestDatabase.logger)
        await #expect(throws: Migrator.SchemaError.self) { try await migrator.migrate() }
    }

    static let rejections: [(sql: String, message: String)] = [
        (
            "INSERT INTO workspaces (org, name, kind, image) VALUES ('o', 'n', 'robot', 'img')",
            "workspaces.kind: must be 'agent' or 'platform', got 'robot'"
        ),
        (
            "INSERT INTO workspaces (org, name, image, desired_state) VALUES ('o', 'n', 'img', 'paused')",
            "workspaces.desired_state: must be 'running', 'stopped' or 'deleted', got 'paused'"
        ),
        (
            "INSERT INTO workspaces (org, name, image) VALUES ('o', 'n', '  ')",
            "workspaces.image: must not be empty"
        ),
        (
            "INSERT INTO workspaces (org, name, image, template) VALUES ('o', 'n', 'img', 'nope')",
            "workspaces.template: no template named 'nope'"
        ),
        (
            "INSERT INTO workspaces (org, name, image, restart_policy) VALUES ('o', 'n', 'img', 'always')",
            "workspaces.restart_policy: must be 'auto' or 'manual'"
        ),
        (
            "INSERT INTO platform_paths (pattern) VALUES ('requests/*')",
            "platform_paths.pattern: must be an absolute path"
        ),
        (
            "INSERT INTO platform_paths (pattern) VALUES ('/a/*/b')",
            "platform_paths.pattern: must be an absolute path"
        ),
        (
            "INSERT INTO tenants (name, hostname, tunnel_id) VALUES ('t', 'Not A Host', 'tun')",
            "tenants.hostname: must be a lowercase DNS name"
        ),
        (
            "INSERT INTO org_secrets (org, key, value) VALUES ('o', '1BAD', 'hunter2')",
            "org_secrets.key: must be an environment-variable name"
        ),
        (
            "INSERT INTO org_secrets (org, key, value, written_by) VALUES ('o', 'K', 'hunter2', 'someone')",
            "org_secrets.written_by: must be 'operator', 'platform' or 'workspace:<uuid>'"
        ),
    ]

    @Test(
        "bad input is refused at write time with a message naming the column and the reason",
        arguments: rejections.indices)
    func rejection(_ index: Int) async throws {
        let pool = try await TestDatabase.create(poolSize: 1)
        let (sql, message) = Self.rejections[index]
        do {
            try await pool.query(sql)
            Issue.record("accepted: \(sql)")
        } catch let error as PostgresError {
            #expect(error.message.hasPrefix(message), "\(error.message)")
            #expect(!error.description.contains("hunter2"))
        }
    }

    @Test("a privileged plugin cannot be declared for an agent workspace, nor an agent kept privileged")
    func privilegedPlugins() async throws {
        let pool = try await TestDatabase.create(poolSize: 1)
        try await pool.query("INSERT INTO privileged_plugins (name, reason) VALUES ('molecule-platform-mcp', 'management MCP')")
        let agent = try await Fixtures.workspace(pool, kind: "agent")
        let platform = try await Fixtures.workspace(pool, kind: "platform")
        do {
            try await pool.query(
                "INSERT INTO workspace_declared_plugins (workspace_id, plugin, ref) VALUES ($1::uuid, 'molecule-platform-mcp', '1.6.1')",
                [agent])
            Issue.record("privileged plugin accepted for an agent workspace")
        } catch let error as PostgresError {
            #expect(error.message.contains("is privileged and may only be declared for kind = 'platform' workspaces"))
        }
        try await pool.query(
            "INSERT INTO workspace_declared_plugins (workspace_id, plugin, ref) VALUES ($1::uuid, 'molecule-platform-mcp', '1.6.1')",
            [platform])
        do {
            try await pool.query("UPDATE workspaces SET kind = 'agent' WHERE id = $1::uuid", [platform])
            Issue.record("a platform workspace with a privileged plugin became an agent")
        } catch let error as PostgresError {
            #expect(error.message.hasPrefix("workspaces.kind: cannot leave 'platform'"))
        }
    }

    @Test("the restart counter only grows")
    func restartCounter() async throws {
        let pool = try await TestDatabase.create(poolSize: 1)
        let id = try await Fixtures.workspace(pool)
        try await pool.query("UPDATE workspaces SET restart_requests = restart_requests + 1 WHERE id = $1::uuid", [id])
        await #expect(throws: PostgresError.self) {
            try await pool.query("UPDATE workspaces SET restart_requests = 0 WHERE id = $1::uuid", [id])
        }
    }

    @Test("inputs move desired generations, fan-out included; status writes move nothing")
    func generationTriggers() async throws {
        let pool = try await TestDatabase.create(poolSize: 1)
        try await pool.query("INSERT INTO templates (name, files) VALUES ('basic', '{\"config.yaml\": \"a: 1\"}')")
        let a = try await Fixtures.workspace(pool, org: "acme")
        let b = try await Fixtures.workspace(pool, org: "acme")
        let other = try await Fixtures.workspace(pool, org: "globex")
        try await pool.query("UPDATE workspaces SET template = 'basic' WHERE id = $1::uuid", [a])
        #expect(try await Fixtures.generations(pool, table: "instances", key: a).desired == 2)
        // Once for the spec change, once because a template change means a new instance generation.
        #expect(try await Fixtures.generations(pool, table: "secret_bundles", key: a).desired == 3)

        try await pool.query("INSERT INTO org_secrets (org, key, value) VALUES ('acme', 'API_KEY', 'x')")
        #expect(try await Fixtures.generations(pool, table: "secret_bundles", key: a).desired == 4)
        #expect(try await Fixtures.generations(pool, table: "secret_bundles", key: b).desired == 2)
        #expect(try await Fixtures.generations(pool, table: "secret_bundles", key: other).desired == 1)

        try await pool.query("UPDATE templates SET files = '{\"config.yaml\": \"a: 2\"}' WHERE name = 'basic'")
        #expect(try await Fixtures.generations(pool, table: "secret_bundles", key: a).desired == 5)
        #expect(try await Fixtures.generations(pool, table: "secret_bundles", key: b).desired == 2)

        try await pool.query("UPDATE workspaces SET phase = 'running', conditions = '{\"Ready\": {}}' WHERE id = $1::uuid", [a])
        #expect(try await Fixtures.generations(pool, table: "instances", key: a).desired == 2)

        let tenant = try await pool.query(
            """
            INSERT INTO tenants (name, hostname, tunnel_id) VALUES ('t1', 'acme.example.com', 'tun-1') RETURNING id
            """
        ).rows[0].require(String.self, "id")
        try await pool.query("INSERT INTO platform_paths (pattern) VALUES ('/requests/*')")
        #expect(try await Fixtures.generations(pool, table: "tunnel_ingress", key: tenant).desired == 2)
        try await pool.query("DELETE FROM org_secrets WHERE org = 'acme'")
        #expect(try await Fixtures.generations(pool, table: "secret_bundles", key: b).desired == 3)
        let leases = try await pool.query("SELECT count(*) AS n FROM leases").rows[0].require(Int.self, "n")
        #expect(leases == 3 * 3 + 1)
    }

    @Test("an org-wide change fans out with one notification, not one per workspace")
    func fanOutNotifiesOnce() async throws {
        let pool = try await TestDatabase.create(poolSize: 1)
        try await pool.query(
            """
            INSERT INTO workspaces (org, name, image) SELECT 'big', 'w' || g, 'img' FROM generate_series(1, 200) g
            """)
        let listener = PostgresListener(
            configuration: pool.configuration, channels: ["secret_bundles"], logger: TestDatabase.logger)
        var events = listener.events().makeAsyncIterator()
        #expect(await events.next() == .connected(reconnected: false))
        try await pool.query("INSERT INTO org_secrets (org, key, value) VALUES ('big', 'TOKEN', 'v')")
        try await pool.query("SELECT pg_notify('secret_bundles', 'marker')")
        #expect(await events.next() == .notification(channel: "secret_bundles", payload: "*"))
        #expect(await events.next() == .notification(channel: "secret_bundles", payload: "marker"))
        listener.stop()
    }
}

@Suite("workspace lifecycle triggers")
struct LifecycleTriggerTests {
    @Test(
        "a restart request moves the instance generation, which makes the bundle due; a staged bundle makes the instance due; a heartbeat transition wakes both controllers, a plain heartbeat nothing"
    )
    func chain() async throws {
        let pool = try await TestDatabase.create(poolSize: 1)
        let id = try await Fixtures.workspace(pool)
        try await pool.query("UPDATE workspaces SET restart_requests = restart_requests + 1 WHERE id = $1::uuid", [id])
        let target = try await pool.query("SELECT target_generation FROM instances WHERE key = $1::uuid", [id]).rows[0]
        #expect(try target.decode(Int64.self, "target_generation") == 2)
        #expect(try await Fixtures.generations(pool, table: "secret_bundles", key: id).desired == 3)

        let before = try await Fixtures.generations(pool, table: "instances", key: id).desired
        try await pool.query("UPDATE secret_bundles SET staged_hash = 'h', staged_generation = 2 WHERE key = $1::uuid", [id])
        #expect(try await Fixtures.generations(pool, table: "instances", key: id).desired == before + 1)

        try await pool.query(
            "INSERT INTO workspace_runtime_status (workspace_id, instance_id, ready) VALUES ($1::uuid, 'i-1', true)", [id])
        let afterHeartbeat = try await Fixtures.generations(pool, table: "instances", key: id).desired
        #expect(afterHeartbeat == before + 2)
        try await pool.query(
            "UPDATE workspace_runtime_status SET reported_at = now() + interval '1 minute' WHERE workspace_id = $1::uuid", [id])
        #expect(try await Fixtures.generations(pool, table: "instances", key: id).desired == afterHeartbeat)
        try await pool.query("UPDATE workspace_runtime_status SET busy_since = now() WHERE workspace_id = $1::uuid", [id])
        #expect(try await Fixtures.generations(pool, table: "instances", key: id).desired == afterHeartbeat + 1)
    }
}

@Suite("example fleet")
struct ExampleFleetTests {
    @Test("the example fleet passes every write-time check and loads only into an empty database")
    func loadsOnce() async throws {
        let pool = try await TestDatabase.create(poolSize: 1)
        #expect(try await ExampleFleet.loadIfEmpty(pool, logger: TestDatabase.logger))
        #expect(try await !ExampleFleet.loadIfEmpty(pool, logger: TestDatabase.logger))
        let kinds = try await pool.query("SELECT kind, count(*) AS n FROM workspaces GROUP BY kind ORDER BY kind").rows
            .map { "\(try $0.require(String.self, "kind"))=\(try $0.require(Int.self, "n"))" }
        #expect(kinds == ["agent=3", "platform=1"])
        let leases = try await pool.query("SELECT count(*) AS n FROM leases").rows[0].require(Int.self, "n")
        // Four workspaces in three workspace controllers, two tenants in the ingress controller.
        #expect(leases == 4 * 3 + 2)
        let tenants = try await pool.query("SELECT count(*) AS n FROM tunnel_ingress").rows[0].require(Int.self, "n")
        #expect(tenants == 2)
        let paths = try await pool.query("SELECT count(*) AS n FROM platform_paths").rows[0].require(Int.self, "n")
        #expect(paths == 3)
    }
}
