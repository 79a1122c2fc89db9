import ControllerHost
import Foundation
import IngressModel
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

@Suite("tunnel ingress")
struct TunnelIngressTests {
    struct World {
        let pool: PostgresPool
        let tunnels = FakeTunnels()
        var tenants: [String: String] = [:]

        func driver(limiter: ProviderRateLimiter = ProviderRateLimiter(rate: 1_000, burst: 1_000)) -> TickDriver {
            let writer = TunnelWriter(provider: tunnels, limiter: limiter)
            let ingress = TunnelIngressReconciler(store: IngressStore(pool: pool), writer: writer)
            return TickDriver(
                pool: pool, controllers: [.init(ingress)],
                sweepers: [RetiredIngressSweeper(store: IngressStore(pool: pool), writer: writer)],
                logger: TestDatabase.logger)
        }

        func rules(_ tunnel: String, _ hostname: String) async -> [String] {
            await tunnels.configurations[tunnel]?.rules(for: hostname).map { "\($0.path ?? "*") -> \($0.service)" } ?? []
        }

        func lastError(_ tenant: String) async throws -> String? {
            try await pool.query("SELECT last_error FROM tunnel_ingress WHERE key = $1::uuid", [tenants[tenant]!]).rows[0]
                .decode(String.self, "last_error")
        }
    }

    static func world() async throws -> World {
        let pool = try await TestDatabase.create(poolSize: 6)
        try await pool.query(
            "INSERT INTO platform_paths (pattern, service) VALUES ('/api/*', 'platform'), ('/healthz', 'platform')")
        let rows = try await pool.query(
            """
            INSERT INTO tenants (name, hostname, tunnel_id, services) VALUES
              ('acme', 'acme.example.com', 'tunnel-acme', '{"platform": "http://10.0.1.1:8080", "app": "http://10.0.1.1:3000"}'),
              ('globex', 'globex.example.com', 'tunnel-shared', '{"platform": "http://10.0.2.1:8080", "app": "http://10.0.2.1:3000"}'),
              ('initech', 'initech.example.com', 'tunnel-shared', '{"platform": "http://10.0.3.1:8080", "app": "http://10.0.3.1:3000"}')
            RETURNING id, name
            """
        ).rows
        var world = World(pool: pool)
        for row in rows { world.tenants[try row.require(String.self, "name")] = try row.require(String.self, "id") }
        return world
    }

    @Test(
        "seed 000, closing note: a new platform_paths row reaches every tenant on the next pass; an edit in the provider is repaired by the full resync"
    )
    func seed000IngressFromTheSourceOfTruth() async throws {
        let world = try await Self.world()
        _ = try await world.driver().tickUntilConverged()
        #expect(
            await world.rules("tunnel-acme", "acme.example.com") == [
                "^/healthz$ -> http://10.0.1.1:8080", "^/api(/|$) -> http://10.0.1.1:8080", "* -> http://10.0.1.1:3000",
            ])
        let shared = try #require(await world.tunnels.configurations["tunnel-shared"])
        #expect(Set(shared.ingress.compactMap(\.hostname)) == ["globex.example.com", "initech.example.com"])
        #expect(shared.ingress.last == IngressRule(service: "http_status:404"))

        // One row in the single source of truth; one pass (no redeploy, no per-tenant action).
        try await world.pool.query("INSERT INTO platform_paths (pattern, service) VALUES ('/requests/*', 'platform')")
        let pass = try await world.driver().tick()
        #expect(pass.controllers["tunnel_ingress"]?.examined == 3)
        for (tunnel, hostname, ip) in [
            ("tunnel-acme", "acme.example.com", "10.0.1.1"), ("tunnel-shared", "globex.example.com", "10.0.2.1"),
            ("tunnel-shared", "initech.example.com", "10.0.3.1"),
        ] {
            #expect(await world.rules(tunnel, hostname).contains("^/requests(/|$) -> http://\(ip):8080"), "\(hostname)")
        }
        let report = try await world.driver().checkIdempotent()
        #expect(report.passed, "\(report.rowWrites) \(report.mutatingActions)")

        // Someone edits acme's tunnel by hand: the due pass has nothing to do, the full resync repairs it.
        await world.tunnels.tamper("tunnel-acme") { rules in rules.removeAll { $0.path == "^/requests(/|$)" } }
        let writes = await world.tunnels.writes
        _ = try await world.driver().tick()
        #expect(await world.tunnels.writes == writes)
        _ = try await world.driver().tick(full: true)
        #expect(await world.tunnels.writes == writes + 1)
        #expect(await world.rules("tunnel-acme", "acme.example.com").contains("^/requests(/|$) -> http://10.0.1.1:8080"))
        #expect(
            try await RecordedEvents.of(world.tenants["acme"]!, in: world.pool)
                .contains { $0.reason == "IngressDriftRepaired" && $0.type == .warning })
    }

    @Test(
        "a path one tenant cannot serve is skipped for it alone; a bad path forced into platform_paths reaches no tenant while a good one beside it reaches every tenant; only a tenant's own catch-all fails it"
    )
    func badInputFailsOnlyItself() async throws {
        var world = try await Self.world()
        let umbrella = try await world.pool.query(
            """
            INSERT INTO tenants (name, hostname, tunnel_id, services)
            VALUES ('umbrella', 'umbrella.example.com', 'tunnel-umbrella', '{"app": "http://10.0.4.1:3000"}') RETURNING id
            """
        ).rows[0].require(String.self, "id")
        world.tenants["umbrella"] = umbrella
        let pass = try await world.driver().tickUntilConverged()
        #expect(pass.failures.isEmpty)
        // Umbrella has no 'platform' service: both platform paths skip it, its own catch-all is applied.
        #expect(await world.rules("tunnel-umbrella", "umbrella.example.com") == ["* -> http://10.0.4.1:3000"])
        #expect(await world.rules("tunnel-acme", "acme.example.com").count == 3)
        let skipped = try await world.pool.query(
            """
            SELECT pattern, skipped_for FROM platform_paths_status ORDER BY pattern
            """
        ).rows.map { "\(try $0.require(String.self, "pattern")): \(try $0.decode([String].self, "skipped_for") ?? [])" }
        #expect(skipped == ["/api/*: [\"umbrella\"]", "/healthz: [\"umbrella\"]"])
        let warnings = try await RecordedEvents.of(umbrella, in: world.pool).filter { $0.reason == "PathSkipped" }
        #expect(warnings.count == 2 && warnings.allSatisfy { $0.message.contains("no URL for service 'platform'") })
        // Said once: a second pass over the same skip adds no event and writes nothing.
        #expect(try await world.driver().checkIdempotent().passed)
        // Fixing the tenant's row is enough.
        try await world.pool.query(
            #"UPDATE tenants SET services = services || '{"platform": "http://10.0.4.1:8080"}' WHERE name = 'umbrella'"#)
        _ = try await world.driver().tickUntilConverged()
        #expect(await world.rules("tunnel-umbrella", "umbrella.example.com").count == 3)

        try await world.pool.query("ALTER TABLE platform_paths DISABLE TRIGGER platform_paths_validate")
        try await world.pool.query(
            "INSERT INTO platform_paths (pattern, service) VALUES ('/files/(.*)', 'platform'), ('/status', 'platform')")
        try await world.pool.query("ALTER TABLE platform_paths ENABLE TRIGGER platform_paths_validate")
        let poisoned = try await world.driver().tickUntilConverged()
        #expect(poisoned.failures.isEmpty)
        for (tenant, hostname, tunnel) in [
            ("acme", "acme.example.com", "tunnel-acme"), ("umbrella", "umbrella.example.com", "tunnel-umbrella"),
            ("globex", "globex.example.com", "tunnel-shared"),
        ] {
            let rules = await world.rules(tunnel, hostname)
            #expect(rules.count == 4 && rules.contains { $0.hasPrefix("^/status$") }, "\(tenant): \(rules)")
        }
        let bad = try await world.pool.query(
            "SELECT skipped_count, reason FROM platform_paths_status WHERE pattern = '/files/(.*)'"
        ).rows[0]
        #expect(try bad.require(Int.self, "skipped_count") == 4)
        #expect(try bad.decode(String.self, "reason")?.contains("platform_paths.pattern '/files/(.*)'") == true)
        try await world.pool.query("DELETE FROM platform_paths WHERE pattern = '/files/(.*)'")
        let healed = try await world.driver().tickUntilConverged()
        #expect(healed.failures.isEmpty)
        #expect(try await world.pool.query("SELECT 1 FROM tunnel_ingress WHERE skipped_paths <> '[]'").rows.isEmpty)
    }

    @Test("a tenant whose own catch-all has no valid URL fails alone, and its tunnel keeps its rules")
    func tenantOwnServiceFailsItAlone() async throws {
        var world = try await Self.world()
        _ = try await world.driver().tickUntilConverged()
        let initech = world.tenants["initech"]!
        try await world.pool.query(
            #"UPDATE tenants SET services = '{"platform": "http://10.0.3.1:8080", "app": "localhost:3000"}' WHERE name = 'initech'"#
        )
        let before = await world.rules("tunnel-shared", "initech.example.com")
        let pass = try await world.driver().tickUntilConverged()
        #expect(pass.failures.map(\.key) == [initech] && pass.failures.allSatisfy(\.terminal))
        #expect(
            try await world.lastError("initech")?.contains(
                "tenants.services.app: 'localhost:3000' is not a service cloudflared accepts") == true)
        #expect(await world.rules("tunnel-shared", "initech.example.com") == before)
        #expect(await world.rules("tunnel-shared", "globex.example.com").count == 3)
        world.tenants.removeValue(forKey: "initech")
    }

    @Test(
        "a failed read never writes; a lost write response converges without a second write; throttling is retried after the provider's wait"
    )
    func providerFaults() async throws {
        let world = try await Self.world()
        await world.tunnels.inject(.error(.transient), on: "read")
        var pass = try await world.driver().tick()
        #expect(pass.failures.count == 1 && pass.failures[0].message.contains("read"))
        #expect(await world.tunnels.writes == 2, "the tenant whose read failed was not written")

        await world.tunnels.inject(.throttle(.seconds(30)), on: "read")
        let later = Date() + 3_600
        pass = try await world.driver().tick(now: later)
        let wait = try await world.pool.query(
            """
            SELECT extract(epoch FROM next_attempt_at - $1::timestamptz)::float8 AS wait FROM tunnel_ingress WHERE last_error IS NOT NULL
            """, [later]
        ).rows.first?.decode(Double.self, "wait")
        #expect(try #require(wait) >= 30, "throttled: retried after the provider's retry-after")

        await world.tunnels.inject(.loseResponse, on: "write")
        _ = try await world.driver().tickUntilConverged(now: Date() + 7_200)
        let writes = await world.tunnels.writes
        #expect(try await world.driver().checkIdempotent(now: Date() + 7_300).passed)
        #expect(await world.tunnels.writes == writes)
    }

    @Test("calls are paced by the provider's rate limit: a change reaching many tenants drains at the quota, none fails")
    func rateLimited() async throws {
        let world = try await Self.world()
        try await world.pool.query(
            """
            INSERT INTO tenants (name, hostname, tunnel_id, services)
            SELECT 'tenant-' || g, 'tenant-' || g || '.example.com', 'tunnel-' || g,
                   '{"platform": "http://10.9.0.1:8080", "app": "http://10.9.0.1:3000"}' FROM generate_series(1, 5) g
            """)
        let rate = 20.0
        let driver = world.driver(limiter: ProviderRateLimiter(rate: rate, burst: 1))
        let start = ContinuousClock.now
        let pass = try await driver.tickUntilConverged()
        #expect(pass.failures.isEmpty)
        let times = await world.tunnels.callTimes
        #expect(times.count == 16, "8 tenants: a read and a write each")
        // With a burst of one, the k-th call cannot come before k / rate seconds (each waits for
        // its own token; a late wake-up may bunch two calls, never make one early).
        for (k, time) in times.enumerated() {
            #expect(time - start >= .seconds(Double(k) / rate) - .milliseconds(2), "call \(k) came before the quota allows")
        }
    }

    @Test("a tenant deleted, or moved to another hostname, leaves no rules behind in the tunnel it shared")
    func retiredTenantsLeaveNoRules() async throws {
        let world = try await Self.world()
        _ = try await world.driver().tickUntilConverged()
        try await world.pool.query("DELETE FROM tenants WHERE name = 'globex'")
        try await world.pool.query("UPDATE tenants SET hostname = 'acme.example.net' WHERE name = 'acme'")
        _ = try await world.driver().tickUntilConverged()
        let shared = try #require(await world.tunnels.configurations["tunnel-shared"])
        #expect(Set(shared.ingress.compactMap(\.hostname)) == ["initech.example.com"])
        #expect(shared.ingress.last == IngressRule(service: "http_status:404"))
        let acme = try #require(await world.tunnels.configurations["tunnel-acme"])
        #expect(Set(acme.ingress.compactMap(\.hostname)) == ["acme.example.net"])
        let queued = try await world.pool.query("SELECT count(*) AS n FROM retired_ingress").rows[0].require(Int.self, "n")
        #expect(queued == 0)
        #expect(try await world.driver().checkIdempotent().passed)
    }

    @Test("one retired pair that cannot be removed fails alone, says why and is retried; the others are removed")
    func retiredPairFailsAlone() async throws {
        let world = try await Self.world()
        _ = try await world.driver().tickUntilConverged()
        try await world.pool.query("DELETE FROM tenants WHERE name IN ('globex', 'acme')")
        // The first read of the sweep fails: whichever pair it is, the other is still removed.
        await world.tunnels.inject(.error(.transient), on: "read")
        let now = Date()
        _ = try await world.driver().tick(now: now)
        let rows = try await world.pool.query("SELECT hostname, attempts, last_error FROM retired_ingress").rows
        #expect(rows.count == 1)
        #expect(try rows.first?.require(Int.self, "attempts") == 1)
        #expect(try rows.first?.decode(String.self, "last_error")?.contains("injected") == true)
        let left = Set(await world.tunnels.configurations.values.flatMap { $0.ingress.compactMap(\.hostname) })
        #expect(left.subtracting(["initech.example.com"]).count == 1, "one pair removed, one waiting: \(left)")
        // Not before its retry time; then it is removed.
        _ = try await world.driver().tick(now: now + 0.5)
        #expect(try await world.pool.query("SELECT 1 FROM retired_ingress").rows.count == 1)
        _ = try await world.driver().tick(now: now + 5)
        #expect(try await world.pool.query("SELECT 1 FROM retired_ingress").rows.isEmpty)
        let remaining = Set(await world.tunnels.configurations.values.flatMap { $0.ingress.compactMap(\.hostname) })
        #expect(remaining == ["initech.example.com"])
    }

    /// Two replicas' read-modify-writes of one tunnel, interleaved on purpose: A reads, B
    /// starts while A has not written yet, then A writes. Returns the hostnames the tunnel ends with.
    static func interleavedWrites(leases: LeaseStore?) async throws -> Set<String> {
        let tunnels = FakeTunnels()
        let replicas = (0..<2).map { _ in
            TunnelWriter(provider: tunnels, limiter: ProviderRateLimiter(rate: 1_000, burst: 1_000), leases: leases)
        }
        @Sendable func readModifyWrite(_ index: Int, beforeWriting: @Sendable () async -> Void) async throws {
            let writer = replicas[index]
            try await writer.serialized("tunnel-x") {
                let current = try await writer.read("tunnel-x", actions: ActionLog())
                await beforeWriting()
                let hostname = "t\(index).example.com"
                let rule = IngressRule(hostname: hostname, path: nil, service: "http://10.0.0.\(index):80")
                try await writer.write(
                    "tunnel-x", IngressRenderer.merge(current, hostname: hostname, rules: [rule]), actions: ActionLog())
            }
        }
        let (aHasRead, signalRead) = AsyncStream.makeStream(of: Void.self)
        let (go, signalGo) = AsyncStream.makeStream(of: Void.self)
        let a = Task {
            try await readModifyWrite(0) {
                signalRead.yield()
                for await _ in go { break }
            }
        }
        for await _ in aHasRead { break }
        let b = Task { try await readModifyWrite(1) {} }
        // B gets every chance to read the old configuration and write (it does when nothing stops it).
        try await Task.sleep(for: .milliseconds(500))
        signalGo.yield()
        try await a.value
        try await b.value
        return Set(await tunnels.configurations["tunnel-x"]?.ingress.compactMap(\.hostname) ?? [])
    }

    @Test("two replicas' read-modify-writes of one tunnel run one after the other through a tunnel lease: neither write is lost")
    func replicasShareATunnel() async throws {
        let world = try await Self.world()
        #expect(try await Self.interleavedWrites(leases: LeaseStore(pool: world.pool)) == ["t0.example.com", "t1.example.com"])
        #expect(
            try await world.pool.query("SELECT 1 FROM leases WHERE controller = 'tunnel' AND holder IS NOT NULL").rows.isEmpty,
            "a tunnel lease was kept after the write")
        // Serialized within each process only, the same interleaving loses a write: the test sees the race.
        #expect(try await Self.interleavedWrites(leases: nil).count == 1)
    }
}
