import ControllerHost
import Logging
import Postgres
import ProviderFakes
import ReconcileRuntime
import ReconcileStore
import WorkspaceControllers
import WorkspaceStore

/// One real controller as the benchmark runs it: its own pool under its own role (so its
/// statements are attributed to it), the reconciler wrapped in a counting decorator, its options.
/// The same value drives the sidecar (`ReconcilerHost`) and tick mode (`TickDriver`).
struct BenchController {
    let name: String
    let role: String
    let pool: PostgresPool
    let tally: Tally
    let controller: ReconcilerHost.Controller

    private init<R: Reconciler & StatusWriter>(
        name: String, server: FleetServer, options: ControllerOptions, poolSize: Int,
        _ make: (PostgresPool) -> R
    ) {
        self.name = name
        role = FleetServer.roles[name]!
        pool = PostgresPool(configuration: server.configuration(role: role), size: poolSize)
        let reconciler = make(pool)
        precondition(reconciler.name == name, "the controller's table is \(reconciler.name)")
        tally = Tally()
        controller = .init(CountedReconciler(base: reconciler, tally: tally), options: options)
    }

    /// The providers the controllers talk to: in memory, no latency, no faults.
    struct FakeProviders {
        let cloud = FakeCloud()
        let secrets = FakeSecretStore()
        let tunnels = FakeTunnels()
        /// The limiter is off: the figure is the controller's, not Cloudflare's quota.
        let tunnelWriter: TunnelWriter

        init() {
            tunnelWriter = TunnelWriter(provider: tunnels, limiter: ProviderRateLimiter(rate: 1e9, burst: 1_000_000))
        }
    }

    /// The instances controller in heartbeat mode (no probe), with the default restart pacer.
    static func instances(_ providers: FakeProviders, server: FleetServer, options: ControllerOptions, poolSize: Int)
        -> BenchController
    {
        BenchController(name: "instances", server: server, options: options, poolSize: poolSize) {
            InstancesReconciler(store: InstanceStore(pool: $0), provider: providers.cloud)
        }
    }

    static func secretBundles(_ providers: FakeProviders, server: FleetServer, options: ControllerOptions, poolSize: Int)
        -> BenchController
    {
        BenchController(name: "secret_bundles", server: server, options: options, poolSize: poolSize) {
            SecretsBundleReconciler(store: BundleStore(pool: $0), secretStore: providers.secrets)
        }
    }

    static func tunnelIngress(_ providers: FakeProviders, server: FleetServer, options: ControllerOptions, poolSize: Int)
        -> BenchController
    {
        BenchController(name: "tunnel_ingress", server: server, options: options, poolSize: poolSize) {
            TunnelIngressReconciler(store: IngressStore(pool: $0), writer: providers.tunnelWriter)
        }
    }

    /// One full pass of tick mode over every key (`TickDriver.tick(full: true)`).
    func fullPass(logger: Logger) async throws -> TickSummary {
        try await TickDriver(pool: pool, controllers: [controller], logger: logger).tick(full: true)
    }
}

/// A `ReconcilerHost` (the sidecar: LISTEN/NOTIFY, due and full resyncs, workers) running one
/// controller until stopped.
struct RunningHost {
    let host: ReconcilerHost
    let task: Task<Void, any Error>

    /// - Parameter fullResyncAtStart: off when the host is restarted over a converged fleet, so
    ///   that the next figure counts only its own work.
    static func start(_ controller: BenchController, fullResyncAtStart: Bool = true, logger: Logger) async throws -> RunningHost {
        var running = controller.controller
        running.options.fullResyncAtStart = fullResyncAtStart
        let host = ReconcilerHost(pool: controller.pool, controllers: [running], logger: logger)
        let task = Task { try await host.run() }
        while !host.listenerHealth.isConnected { try await Task.sleep(for: .milliseconds(10)) }
        return RunningHost(host: host, task: task)
    }

    /// Graceful stop: in-flight batches finish, leases are released.
    func stop() async throws {
        task.cancel()
        try await task.value
    }
}
