import CloudflareContract
import CloudflareProvider
import ControllerHost
import Foundation
import Postgres
import PostgresTestSupport
import Providers
import ReconcileRuntime
import ReconcileStore
import Testing
import WorkspaceControllers
import WorkspaceStore

/// The tunnel-ingress controller end to end on the Cloudflare provider and the contract server:
/// real PostgreSQL, real HTTP, Cloudflare's wire format.
@Suite("tunnel ingress on Cloudflare")
struct CloudflareTunnelIngressTests {
    struct World {
        let pool: PostgresPool
        let cloudflare: ProviderFixture
        let provider: CloudflareTunnelConfigProvider
        var tenants: [String: String] = [:]

        /// The sidecar's controller and sweeper on the provider, its limiter at the settings'
        /// rate, tunnels leased across replicas. `sequential`: one reconcile at a time.
        func driver(sequential: Bool = false) -> TickDriver {
            let settings = provider.settings
            let writer = TunnelWriter(
                provider: provider, limiter: ProviderRateLimiter(rate: settings.requestsPerSecond, burst: settings.burst),
                leases: LeaseStore(pool: pool))
            let ingress = TunnelIngressReconciler(store: IngressStore(pool: pool), writer: writer)
            var options = ControllerOptions()
            if sequential {
                options.workers = 1
                options.batchSize = 1
            }
            return TickDriver(
                pool: pool, controllers: [.init(ingress, options: options)],
                sweepers: [RetiredIngressSweeper(store: IngressStore(pool: pool), writer: writer)], logger: TestDatabase.logger)
        }

        /// A hostname's rules in the tunnel's stored document, as `path -> service`.
        func rules(_ tunnel: String, _ hostname: String) -> [String] {
            let config = cloudflare.server.tunnel(account: cloudflare.account, id: tunnel)?.config ?? .null
            return config.ingress.filter { $0["hostname"]?.stringValue == hostname }.map {
                "\($0["path"]?.stringValue ?? "*") -> \($0["service"]?.stringValue ?? "")"
            }
        }

        func puts() -> Int {
            cloudflare.server.requests(account: cloudflare.account).filter { $0.method == "PUT" }.count
        }

        func lastErrors() async throws -> [String] {
            try await pool.query("SELECT last_error FROM tunnel_ingress WHERE last_error IS NOT NULL").rows.map {
                try $0.require(String.self, "last_error")
            }
        }
    }

    /// Seed 000's fleet: acme on a tunnel of its own; globex and initech sharing one whose
    /// document also carries another system's rule and settings.
    static func world() async throws -> World {
        let pool = try await TestDatabase.create(poolSize: 6)
        let cloudflare = try await ProviderFixture()
        // Fast enough for a test; the limiter still paces every call.
        let provider = try cloudflare.provider { $0.requestsPerSecond = 50 }
        cloudflare.server.createTunnel(account: cloudflare.account, id: "tunnel-acme")
        cloudflare.server.createTunnel(
            account: cloudflare.account, id: "tunnel-shared", config: CloudflareProviderContractTests.foreignConfig, version: 12)
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
        var world = World(pool: pool, cloudflare: cloudflare, provider: provider)
        for row in rows { world.tenants[try row.require(String.self, "name")] = try row.require(String.self, "id") }
        return world
    }

    static let tenants = [
        ("tunnel-acme", "acme.example.com", "10.0.1.1"), ("tunnel-shared", "globex.example.com", "10.0.2.1"),
        ("tunnel-shared", "initech.example.com", "10.0.3.1"),
    ]

    @Test(
        "CP#730: a platform_paths insert reaches every tenant's tunnel in one pass; the other system's rule and settings survive; a converged pass makes no PUT"
    )
    func platformPathReachesEveryTenant() async throws {
        let world = try await Self.world()
        let first = try await world.driver().tickUntilConverged()
        #expect(first.failures.isEmpty, "\(first.failures)")
        #expect(
            world.rules("tunnel-acme", "acme.example.com") == [
                "^/healthz$ -> http://10.0.1.1:8080", "^/api(/|$) -> http://10.0.1.1:8080", "* -> http://10.0.1.1:3000",
            ])

        try await world.pool.query("INSERT INTO platform_paths (pattern, service) VALUES ('/requests/*', 'platform')")
        let puts = world.puts()
        let pass = try await world.driver().tick()
        #expect(pass.controllers["tunnel_ingress"]?.examined == 3 && pass.failures.isEmpty)
        for (tunnel, hostname, ip) in Self.tenants {
            #expect(world.rules(tunnel, hostname).contains("^/requests(/|$) -> http://\(ip):8080"), "\(hostname)")
        }
        #expect(world.puts() == puts + 3, "one PUT per tenant whose rules changed")

        let shared = try #require(world.cloudflare.server.tunnel(account: world.cloudflare.account, id: "tunnel-shared"))
        let foreign = CloudflareProviderContractTests.foreignConfig
        #expect(shared.config.ingress.contains(foreign.ingress[0]), "the legacy rule, origin settings included")
        #expect(shared.config.ingress.last == .catchAll)
        #expect(
            shared.config["originRequest"] == foreign["originRequest"] && shared.config["warp-routing"] == foreign["warp-routing"]
        )

        let writes = world.puts()
        let report = try await world.driver().checkIdempotent()
        #expect(report.passed, "\(report.rowWrites) \(report.mutatingActions)")
        #expect(world.puts() == writes, "the converged pass read every tunnel and wrote none")
    }

    @Test(
        "another writer between our GET and our PUT: that tenant's write is refused and retried from a fresh read; the writer's rule for its own hostname survives"
    )
    func concurrentWriterPreserved() async throws {
        let world = try await Self.world()
        _ = try await world.driver().tickUntilConverged()
        let account = world.cloudflare.account
        world.cloudflare.server.writeAfterNextRead(account: account, tunnel: "tunnel-shared") { rules in
            rules.insert(.rule("partner.example.com", "http://10.7.7.7:80"), at: 0)
        }
        try await world.pool.query("INSERT INTO platform_paths (pattern, service) VALUES ('/requests/*', 'platform')")

        let pass = try await world.driver().tick()
        #expect(pass.failures.count == 1, "\(pass.failures)")
        #expect(pass.failures.first?.message.contains("changed since it was read") == true)
        #expect(pass.failures.first?.terminal == false)
        #expect(try await world.lastErrors().count == 1)

        // The retry (after its backoff) reads the writer's rule and keeps it.
        let retried = try await world.driver().tickUntilConverged(now: Date() + 600)
        #expect(retried.failures.isEmpty, "\(retried.failures)")
        #expect(world.rules("tunnel-shared", "partner.example.com") == ["* -> http://10.7.7.7:80"])
        for (tunnel, hostname, ip) in Self.tenants {
            #expect(world.rules(tunnel, hostname).contains("^/requests(/|$) -> http://\(ip):8080"), "\(hostname)")
        }
        #expect(try await world.lastErrors().isEmpty)
        let writes = world.puts()
        #expect(try await world.driver().checkIdempotent(now: Date() + 700).passed)
        #expect(world.puts() == writes)
    }

    @Test("a 429 during the fan-out: every tenant waits out Retry-After without calling Cloudflare, then converges")
    func throttledFanOut() async throws {
        let world = try await Self.world()
        _ = try await world.driver().tickUntilConverged()
        let account = world.cloudflare.account
        world.cloudflare.server.throttle(account: account, next: 1, retryAfter: 1)
        try await world.pool.query("INSERT INTO platform_paths (pattern, service) VALUES ('/requests/*', 'platform')")
        let seen = world.cloudflare.server.requests(account: account).count

        let pass = try await world.driver(sequential: true).tick()
        #expect(pass.failures.count == 3 && pass.failures.allSatisfy { $0.reason == "ProviderThrottled" }, "\(pass.failures)")
        #expect(world.cloudflare.server.requests(account: account).count == seen + 1, "one 429, then no call")
        let waits = try await world.pool.query(
            "SELECT extract(epoch FROM next_attempt_at - now())::float8 AS wait FROM tunnel_ingress WHERE last_error IS NOT NULL"
        ).rows.map { try $0.require(Double.self, "wait") }
        #expect(waits.count == 3 && waits.allSatisfy { $0 > 0 }, "\(waits)")

        // Cloudflare's block is over after Retry-After; then the retries converge.
        try await Task.sleep(for: .seconds(1))
        let converged = try await world.driver(sequential: true).tickUntilConverged(now: Date() + 60)
        #expect(converged.failures.isEmpty, "\(converged.failures)")
        for (tunnel, hostname, ip) in Self.tenants {
            #expect(world.rules(tunnel, hostname).contains("^/requests(/|$) -> http://\(ip):8080"), "\(hostname)")
        }
        #expect(world.cloudflare.server.requests(account: account).allSatisfy { !$0.duringBlock })
    }

    @Test(
        "a token Cloudflare refuses fails every tenant terminally; last_error and the events name the variable and the permission, never the token"
    )
    func refusedTokenNeverStored() async throws {
        let marker = "cf-marker-\(UUID().uuidString)"
        var world = try await Self.world()
        let refused = try world.cloudflare.provider(token: marker)
        world = World(pool: world.pool, cloudflare: world.cloudflare, provider: refused, tenants: world.tenants)

        let pass = try await world.driver().tickUntilConverged()
        #expect(pass.failures.count == 3 && pass.failures.allSatisfy { $0.terminal && $0.reason == "ProviderRejected" })
        #expect(
            world.cloudflare.server.requests(account: world.cloudflare.account).contains {
                $0.authorization == "Bearer \(marker)"
            })
        let errors = try await world.lastErrors()
        #expect(
            errors.count == 3
                && errors.allSatisfy { $0.contains("9109: Invalid access token") && $0.contains("CLOUDFLARE_API_TOKEN") })
        var stored = errors
        for tenant in world.tenants.values {
            stored += try await RecordedEvents.of(tenant, in: world.pool).map { "\($0.reason) \($0.message)" }
        }
        stored += try await world.pool.query("SELECT row_to_json(t)::text AS row FROM tunnel_ingress t").rows.map {
            try $0.require(String.self, "row")
        }
        #expect(stored.count > 6 && stored.allSatisfy { !$0.contains(marker) })
    }
}
