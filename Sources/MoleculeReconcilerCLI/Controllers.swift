import ControllerHost
import Foundation
import LocalProviders
import Logging
import Postgres
import Providers
import ReconcileRuntime
import ReconcileStore
import WorkspaceControllers
import WorkspaceModel
import WorkspaceStore

/// The controllers this binary runs, on the providers `ProviderOptions` chose (by default the
/// local set: bundles staged as files under `<state>/secrets`, instances as
/// `molecule-workspace-runtime` processes recorded under `<state>/instances`, each tunnel's
/// ingress rendered to `<state>/tunnels/<tunnel_id>/config.yml`); runtimes are probed over HTTP
/// for their status (EC2: heartbeat rows) and plugins are delivered to them over HTTP.
struct Controllers {
    var controllers: [ReconcilerHost.Controller]
    var sweepers: [any Sweeper]
    var refreshers: [any MetricsRefresher]
    /// The instance provider and the database's owner tag (`demo` stops its runtimes at exit).
    var instances: any InstanceProvider
    var owner: String

    /// Instances are tagged with the database's identity, so that sweeping orphans never
    /// touches the instances of another database sharing the state directory, the engine or the
    /// account. Whether local runtimes run as users of their own is decided here, once, and said
    /// in the log.
    static func make(pool: PostgresPool, global: GlobalOptions, providers: ProviderOptions, logger: Logger) async throws
        -> Controllers
    {
        let stateDirectory = providers.stateDirectory(global)
        let isolation = try providers.state.isolation.resolve(stateDirectory: stateDirectory)
        try isolation.prepare(stateDirectory: URL(fileURLWithPath: stateDirectory))
        if case .perWorkspaceUser = isolation {
            logger.info("runtime isolation", metadata: ["isolation": "\(isolation.summary)"])
        } else if try providers.instances == .local {
            logger.warning("runtime isolation", metadata: ["isolation": "\(isolation.summary)"])
        }
        let owner = try await DatabaseIdentity.owner(pool)
        let set = try await ProviderSet.make(providers, global: global, owner: owner, isolation: isolation, logger: logger)
        return Controllers(pool: pool, providers: set, owner: owner)
    }

    init(pool: PostgresPool, providers: ProviderSet, owner: String) {
        self.instances = providers.instances
        self.owner = owner
        let tunnels = TunnelWriter(
            provider: providers.tunnels,
            limiter: ProviderRateLimiter(rate: providers.tunnelRate, burst: max(1, Int(providers.tunnelRate))),
            leases: LeaseStore(pool: pool))
        let instances = InstanceStore(pool: pool)
        let ingress = IngressStore(pool: pool)
        controllers = [
            .init(SecretsBundleReconciler(store: BundleStore(pool: pool), secretStore: providers.secrets)).named(by: instances),
            .init(InstancesReconciler(store: instances, provider: providers.instances, probe: providers.probe, owner: owner))
                .named(by: instances),
            .init(
                DeclaredPluginsReconciler(
                    store: PluginStore(pool: pool),
                    delivery: InstrumentedPluginDelivery(HTTPPluginDelivery(), provider: "http_plugin_delivery"),
                    probe: providers.probe)
            ).named(by: instances),
            .init(TunnelIngressReconciler(store: ingress, writer: tunnels)).named(by: ingress),
        ]
        sweepers = [
            OrphanSweeper(instances: instances, events: EventStore(pool: pool), provider: providers.instances, owner: owner),
            RetiredIngressSweeper(store: ingress, writer: tunnels),
            OrphanBundleSweeper(secretStore: providers.secrets, workspaces: instances, events: EventStore(pool: pool)),
        ]
        refreshers = [FleetMetrics(store: instances)]
    }
}
