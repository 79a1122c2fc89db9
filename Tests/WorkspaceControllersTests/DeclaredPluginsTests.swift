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

/// The declared-plugins controller with the instances and bundle controllers, against fake
/// runtimes that report and accept plugins (probe mode, like the embedded default).
@Suite("declared plugins")
struct DeclaredPluginsTests {
    static let t0 = Date(timeIntervalSince1970: 1_900_000_000)

    struct World {
        let pool: PostgresPool
        let cloud = FakeCloud()
        let store = FakeSecretStore()
        let runtimes = FakeRuntimes()
        let workspace: String

        func driver(plugins: Bool = true, instances: Bool = true) -> TickDriver {
            var controllers: [ReconcilerHost.Controller] = [
                .init(SecretsBundleReconciler(store: BundleStore(pool: pool), secretStore: store))
            ]
            if instances {
                controllers.append(.init(InstancesReconciler(store: InstanceStore(pool: pool), provider: cloud, probe: runtimes)))
            }
            if plugins {
                controllers.append(
                    .init(DeclaredPluginsReconciler(store: PluginStore(pool: pool), delivery: runtimes, probe: runtimes)))
            }
            return TickDriver(pool: pool, controllers: controllers, logger: TestDatabase.logger)
        }

        func bootAll() async {
            await DeclaredPluginsTests.bootAll(cloud: cloud, store: store, runtimes: runtimes)
        }

        /// Converges, boots what was launched, and looks again (as the full resync would).
        func settle(at now: Date, driver: TickDriver? = nil) async throws {
            let driver = driver ?? self.driver()
            for _ in 0..<4 {
                _ = try await driver.tickUntilConverged(now: now)
                await bootAll()
                _ = try await driver.tick(now: now, full: true)
            }
        }

        func instance() async -> String? { await cloud.live(workspaceID: workspace).first?.id }

        func row() async throws -> PostgresRow {
            try await pool.query(
                """
                SELECT phase, last_error, restart_pending, conditions -> 'PluginsInstalled' ->> 'status' AS plugins_status,
                       conditions -> 'PluginsInstalled' ->> 'reason' AS plugins_reason
                  FROM workspaces WHERE id = $1::uuid
                """, [workspace]
            ).rows[0]
        }
    }

    /// Boots every pending instance: its runtime starts with the boot plugins of its bundle.
    static func bootAll(cloud: FakeCloud, store: FakeSecretStore, runtimes: FakeRuntimes) async {
        for record in await cloud.instances.values where record.state == .pending {
            await cloud.boot(record.id, address: "10.0.0.\(record.generation):8080")
            let bundle = await store.peek(name: WorkspaceBundle.secretName(workspaceID: record.workspaceID)) ?? Data()
            let object = (try? JSONSerialization.jsonObject(with: bundle)) as? [String: Any]
            await runtimes.start(record.id, plugins: object?["plugins"] as? [String: String] ?? [:])
        }
    }

    static func world(kind: String, policy: String = "auto") async throws -> World {
        let pool = try await TestDatabase.create(poolSize: 6)
        try await pool.query(
            #"INSERT INTO templates (name, files) VALUES ('t', '{"config.yaml": "a: 1", "prompts/p.md": "hi"}')"#)
        try await pool.query("INSERT INTO privileged_plugins (name, reason) VALUES ('molecule-platform-mcp', 'management MCP')")
        let id = try await pool.query(
            """
            INSERT INTO workspaces (org, name, kind, template, image, restart_policy) VALUES ('acme', 'w', $1, 't', 'agent:1', $2) RETURNING id
            """, [kind, policy]
        ).rows[0].require(String.self, "id")
        return World(pool: pool, workspace: id)
    }

    @Test(
        "seed 001: the management MCP is delivered while the platform workspace is failed, and the workspace climbs back online")
    func seed001DeliveryWhileFailed() async throws {
        let world = try await Self.world(kind: "platform")
        try await world.pool.query(
            """
            INSERT INTO workspace_declared_plugins (workspace_id, plugin, ref) VALUES ($1::uuid, 'molecule-platform-mcp', '1.6.1')
            """, [world.workspace])
        // The first deliveries fail (the plugin source is down): the runtime reports the MCP missing.
        await world.runtimes.inject(.error(.transient), on: "install", times: 1)
        try await world.settle(at: Self.t0)
        #expect(try await world.row().require(String.self, "phase") == "provisioning", "within the startup window")
        // Past the startup window, still without the MCP: failed, and not recreated (a new
        // instance would boot without it too).
        _ = try await world.driver(plugins: false).tick(now: Self.t0 + 700, full: true)
        _ = try await world.driver(plugins: false).tickUntilConverged(now: Self.t0 + 800)
        var row = try await world.row()
        #expect(try row.require(String.self, "phase") == "failed")
        let ready = try await world.pool.query(
            "SELECT conditions -> 'InstanceReady' ->> 'message' AS m FROM workspaces WHERE id = $1::uuid",
            [world.workspace]
        ).rows[0].decode(String.self, "m")
        #expect(ready?.contains("management MCP server missing") == true, "\(ready ?? "-")")
        let instance = try #require(await world.instance())
        #expect(await world.runtimes.plugins(of: instance)?["molecule-platform-mcp"] == nil)

        // Only the plugins controller runs, with the workspace failed: it delivers anyway.
        let pluginsOnly = world.driver(plugins: true, instances: false)
        _ = try await pluginsOnly.tick(now: Self.t0 + 900, full: true)
        #expect(await world.runtimes.plugins(of: instance)?["molecule-platform-mcp"] == "1.6.1")
        #expect(try await world.row().require(String.self, "phase") == "failed")

        // The runtime now reports the MCP present: online again, the error cleared, the same
        // instance (recreating it would not have helped and did not happen).
        _ = try await world.driver().tickUntilConverged(now: Self.t0 + 901)
        row = try await world.row()
        #expect(try row.require(String.self, "phase") == "running")
        #expect(try row.decode(String.self, "last_error") == nil)
        #expect(try row.decode(String.self, "plugins_status") == "True")
        #expect(await world.cloud.launches == 1)
        #expect(try await world.driver().checkIdempotent(now: Self.t0 + 902).passed)
    }

    @Test(
        "persisted cooldown: a delivery that keeps failing, with the reconciler restarted every second, is attempted only as the backoff allows"
    )
    func persistedCooldown() async throws {
        let world = try await Self.world(kind: "agent")
        try await world.pool.query(
            """
            INSERT INTO workspace_declared_plugins (workspace_id, plugin, ref) VALUES ($1::uuid, 'search-tools', '2.0.0')
            """, [world.workspace])
        try await world.settle(at: Self.t0, driver: world.driver(plugins: false))
        await world.runtimes.inject(.error(.transient), on: "install", times: 1_000)
        var attempts: [Double] = []
        for second in 0..<120 {
            let now = Self.t0 + 10 + Double(second)
            let due = try await world.pool.query(
                "SELECT next_attempt_at FROM plugin_installs WHERE key = $1::uuid", [world.workspace]
            )
            .rows[0].decode(Date.self, "next_attempt_at")
            let before = await world.runtimes.installCalls
            // A fresh reconciler every second, starting with a full look at every key.
            _ = try await world.driver().tick(now: now, full: true)
            let after = await world.runtimes.installCalls
            if after > before { attempts.append(Double(second)) }
            if let due, now < due { #expect(after == before, "delivered at +\(second) s before the persisted retry time") }
        }
        // 1 s doubling to 64 s over two minutes: seven or eight attempts, not 120.
        #expect(attempts.count >= 6 && attempts.count <= 8, "\(attempts)")
        let gaps = zip(attempts.dropFirst(), attempts).map { $0 - $1 }
        #expect(gaps == gaps.sorted(), "the gaps between attempts grow: \(gaps)")
        let row = try await world.row()
        #expect(try row.decode(String.self, "last_error")?.hasPrefix("plugin_installs: runtime: install:") == true)
        #expect(try row.decode(String.self, "plugins_reason") == "DeliveryFailed")
        let events = try await RecordedEvents.of(world.workspace, in: world.pool)
        #expect(events.contains { $0.controller == "plugin_installs" && $0.type == .warning && $0.count >= 6 })
    }

    @Test(
        "privileged plugins: refused at write time for an agent; a row forced in is still not delivered, and removed if present")
    func privilegedFailClosed() async throws {
        let world = try await Self.world(kind: "agent")
        do {
            try await world.pool.query(
                """
                INSERT INTO workspace_declared_plugins (workspace_id, plugin, ref) VALUES ($1::uuid, 'molecule-platform-mcp', '1.6.1')
                """, [world.workspace])
            Issue.record("declaring a privileged plugin for an agent was accepted")
        } catch {
            #expect(
                "\(error)".contains(
                    "workspace_declared_plugins.plugin: 'molecule-platform-mcp' is privileged and may only be declared for kind = 'platform' workspaces"
                ))
        }
        try await world.pool.query(
            """
            INSERT INTO workspace_declared_plugins (workspace_id, plugin, ref) VALUES ($1::uuid, 'search-tools', '2.0.0')
            """, [world.workspace])
        try await world.settle(at: Self.t0)
        let instance = try #require(await world.instance())
        // Around the check: the validation trigger disabled, as a careless migration might.
        func forced(_ sql: String) async throws {
            try await world.pool.query(
                "ALTER TABLE workspace_declared_plugins DISABLE TRIGGER workspace_declared_plugins_validate")
            try await world.pool.query(sql, [world.workspace])
            try await world.pool.query(
                "ALTER TABLE workspace_declared_plugins ENABLE TRIGGER workspace_declared_plugins_validate")
        }
        try await forced(
            """
            INSERT INTO workspace_declared_plugins (workspace_id, plugin, ref) VALUES ($1::uuid, 'molecule-platform-mcp', '1.6.1')
            """)
        // ...and the plugin smuggled into the runtime by hand.
        await world.runtimes.tamper(instance) { $0.plugins["molecule-platform-mcp"] = "1.6.1" }
        try await world.settle(at: Self.t0 + 60)
        #expect(await world.runtimes.plugins(of: instance) == ["search-tools": "2.0.0"])
        let row = try await world.row()
        #expect(try row.decode(String.self, "last_error")?.contains("'molecule-platform-mcp' is privileged") == true)
        #expect(try row.decode(String.self, "plugins_reason") == "PluginRefused")
        #expect(
            try await RecordedEvents.of(world.workspace, in: world.pool)
                .contains { $0.reason == "PluginRefused" && $0.type == .warning })
        // Not in the bundle either, even as a boot plugin.
        try await forced(
            "UPDATE workspace_declared_plugins SET requires_restart = true WHERE workspace_id = $1::uuid AND plugin = 'molecule-platform-mcp'"
        )
        try await world.settle(at: Self.t0 + 120)
        let bundle = String(
            decoding: await world.store.peek(name: WorkspaceBundle.secretName(workspaceID: world.workspace)) ?? Data(),
            as: UTF8.self)
        #expect(!bundle.contains("molecule-platform-mcp"))
    }

    @Test(
        "an undeclared plugin is removed; a plugin the runtime has of its own is left alone; a replaced instance gets the declared set again"
    )
    func removalAndRedelivery() async throws {
        let world = try await Self.world(kind: "agent")
        try await world.pool.query(
            """
            INSERT INTO workspace_declared_plugins (workspace_id, plugin, ref)
            VALUES ($1::uuid, 'search-tools', '2.0.0'), ($1::uuid, 'browser', '1.1.0')
            """, [world.workspace])
        try await world.settle(at: Self.t0)
        let first = try #require(await world.instance())
        await world.runtimes.tamper(first) { $0.plugins["baked-in"] = "0.1" }
        #expect(await world.runtimes.plugins(of: first) == ["search-tools": "2.0.0", "browser": "1.1.0", "baked-in": "0.1"])
        try await world.pool.query("DELETE FROM workspace_declared_plugins WHERE plugin = 'browser'")
        try await world.pool.query("UPDATE workspace_declared_plugins SET ref = '2.1.0' WHERE plugin = 'search-tools'")
        try await world.settle(at: Self.t0 + 60)
        #expect(await world.runtimes.plugins(of: first) == ["search-tools": "2.1.0", "baked-in": "0.1"])
        #expect(try await world.driver().checkIdempotent(now: Self.t0 + 61).passed)

        try await world.pool.query(
            "UPDATE workspaces SET restart_requests = restart_requests + 1 WHERE id = $1::uuid", [world.workspace])
        try await world.settle(at: Self.t0 + 120)
        let second = try #require(await world.instance())
        #expect(second != first)
        #expect(await world.runtimes.plugins(of: second) == ["search-tools": "2.1.0"])
        let tokens = await world.runtimes.tokens
        #expect(
            tokens[first] != nil && tokens[second] != nil && tokens[first] != tokens[second],
            "each instance is addressed with its own token")
    }

    @Test(
        "a plugin that loads only at boot restarts an idle agent through the bundle; a busy one after its turn; a platform workspace gets restart_pending instead"
    )
    func bootPluginsUseTheRestartPolicy() async throws {
        let agent = try await Self.world(kind: "agent")
        try await agent.settle(at: Self.t0)
        try await agent.pool.query(
            """
            INSERT INTO workspace_declared_plugins (workspace_id, plugin, ref, requires_restart) VALUES ($1::uuid, 'vector-store', '3.0.0', true)
            """, [agent.workspace])
        try await agent.settle(at: Self.t0 + 60)
        let restarted = try #require(await agent.instance())
        #expect(await agent.cloud.launches == 2)
        #expect(await agent.runtimes.plugins(of: restarted) == ["vector-store": "3.0.0"])
        #expect(await agent.runtimes.installCalls == 0, "a boot plugin is never delivered over HTTP")
        #expect(try await agent.row().decode(String.self, "plugins_status") == "True")

        // An agent busy in a turn is not interrupted: restart_pending until the turn ends.
        let busy = try await Self.world(kind: "agent")
        try await busy.settle(at: Self.t0)
        let serving = try #require(await busy.instance())
        await busy.runtimes.tamper(serving) { $0.busySince = Self.t0 }
        try await busy.pool.query(
            """
            INSERT INTO workspace_declared_plugins (workspace_id, plugin, ref, requires_restart) VALUES ($1::uuid, 'vector-store', '3.0.0', true)
            """, [busy.workspace])
        try await busy.settle(at: Self.t0 + 60)
        #expect(await busy.cloud.launches == 1)
        #expect(try await busy.row().require(Bool.self, "restart_pending"))
        await busy.runtimes.tamper(serving) { $0.busySince = nil }
        try await busy.settle(at: Self.t0 + 120)
        #expect(await busy.cloud.launches == 2)
        #expect(try await busy.row().require(Bool.self, "restart_pending") == false)
        #expect(await busy.runtimes.plugins(of: try #require(await busy.instance())) == ["vector-store": "3.0.0"])

        let platform = try await Self.world(kind: "platform", policy: "auto")
        try await platform.settle(at: Self.t0)
        try await platform.pool.query(
            """
            INSERT INTO workspace_declared_plugins (workspace_id, plugin, ref, requires_restart) VALUES ($1::uuid, 'vector-store', '3.0.0', true)
            """, [platform.workspace])
        try await platform.settle(at: Self.t0 + 60)
        #expect(await platform.cloud.launches == 1)
        let row = try await platform.row()
        #expect(try row.require(Bool.self, "restart_pending"))
        #expect(try row.decode(String.self, "plugins_reason") == "WaitingForRestart")
    }

    @Test("heartbeat mode: what the platform's heartbeat reports installed is the observed state; a delivery happens once")
    func heartbeatMode() async throws {
        let world = try await Self.world(kind: "agent")
        let driver = TickDriver(
            pool: world.pool,
            controllers: [
                .init(SecretsBundleReconciler(store: BundleStore(pool: world.pool), secretStore: world.store)),
                .init(InstancesReconciler(store: InstanceStore(pool: world.pool), provider: world.cloud)),
                .init(DeclaredPluginsReconciler(store: PluginStore(pool: world.pool), delivery: world.runtimes)),
            ], logger: TestDatabase.logger)
        try await world.pool.query(
            """
            INSERT INTO workspace_declared_plugins (workspace_id, plugin, ref) VALUES ($1::uuid, 'web-search', '2.3.0')
            """, [world.workspace])
        try await world.settle(at: Self.t0, driver: driver)
        let instance = try #require(await world.instance())
        // No heartbeat yet: nothing is known of the runtime, nothing is delivered blindly.
        #expect(await world.runtimes.installCalls == 0)
        #expect(try await world.row().decode(String.self, "plugins_reason") == "WaitingForRuntime")
        func heartbeat(_ plugins: String) async throws {
            try await world.pool.query(
                """
                INSERT INTO workspace_runtime_status (workspace_id, instance_id, ready, plugins, reported_at)
                VALUES ($1::uuid, $2, true, $3::jsonb, $4)
                ON CONFLICT (workspace_id) DO UPDATE SET plugins = excluded.plugins, reported_at = excluded.reported_at
                """, [world.workspace, instance, plugins, Self.t0 + 10])
        }
        try await heartbeat("{}")
        _ = try await driver.tickUntilConverged(now: Self.t0 + 10)
        #expect(await world.runtimes.installCalls == 1)
        // The runtime reports it on its next heartbeat (a transition: the controllers wake).
        try await heartbeat(#"{"web-search": "2.3.0"}"#)
        _ = try await driver.tickUntilConverged(now: Self.t0 + 20)
        #expect(await world.runtimes.installCalls == 1)
        #expect(try await world.row().decode(String.self, "plugins_status") == "True")
        #expect(try await driver.checkIdempotent(now: Self.t0 + 30).passed)
    }
}
