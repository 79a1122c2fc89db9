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

/// The controllers this binary runs, on the local providers (the embedded default): bundles
/// staged as files under `<state>/secrets`, instances as `molecule-workspace-runtime` processes
/// recorded under `<state>/instances`, probed over HTTP for their status, plugins delivered to
/// them over HTTP, and each tunnel's ingress rendered to `<state>/tunnels/<tunnel_id>/config.yml`.
struct Controllers {
    var controllers: [ReconcilerHost.Controller]
    var sweepers: [any Sweeper]
    var refreshers: [any MetricsRefresher]

    /// Instances are tagged with the database's identity, so that sweeping orphans never
    /// touches the runtimes of another database sharing the state directory. Whether runtimes
    /// run as users of their own is decided here, once, and said in the log.
    static func make(pool: PostgresPool, global: GlobalOptions, providers: ProviderOptions, logger: Logger) async throws
        -> Controllers
    {
        let stateDirectory = providers.stateDirectory(global)
        let isolation = try providers.isolation.resolve(stateDirectory: stateDirectory)
        try isolation.prepare(stateDirectory: URL(fileURLWithPath: stateDirectory))
        if case .perWorkspaceUser = isolation {
            logger.info("runtime isolation", metadata: ["isolation": "\(isolation.summary)"])
        } else {
            logger.warning("runtime isolation", metadata: ["isolation": "\(isolation.summary)"])
        }
        return Controllers(
            pool: pool, global: global, providers: providers, owner: try await DatabaseIdentity.owner(pool),
            isolation: isolation)
    }

    init(pool: PostgresPool, global: GlobalOptions, providers: ProviderOptions, owner: String, isolation: RuntimeIsolation) {
        let state = URL(fileURLWithPath: providers.stateDirectory(global))
        // A bundle is readable by its workspace's runtime user, and only by it.
        var reader: FileSecretStore.Reader?
        if case .perWorkspaceUser(let users) = isolation {
            reader = { name in try WorkspaceBundle.workspaceID(ofSecretName: name).map { try users.user(for: $0) } }
        }
        let fileSecrets = FileSecretStore(root: state.appendingPathComponent("secrets"), reader: reader)
        // Every provider call is counted and timed (`molecule_provider_requests_total`).
        let secrets = InstrumentedSecretStore(fileSecrets, provider: "file_secret_store")
        let processes = InstrumentedInstanceProvider(
            LocalProcessProvider(
                directory: state.appendingPathComponent("instances"),
                runtimeExecutable: URL(fileURLWithPath: providers.runtimeExecutablePath),
                secretStoreRoot: fileSecrets.root, isolation: isolation),
            provider: "local_process")
        let probe = InstrumentedRuntimeStatusSource(HTTPRuntimeProbe(), provider: "http_runtime_probe")
        // Local files have no quota worth the name; the Cloudflare provider keeps the default (3/s).
        let tunnels = TunnelWriter(
            provider: InstrumentedTunnelConfigProvider(
                FileTunnelConfigStore(root: state.appendingPathComponent("tunnels")), provider: "file_tunnel_config"),
            limiter: ProviderRateLimiter(rate: 200, burst: 200), leases: LeaseStore(pool: pool))
        let instances = InstanceStore(pool: pool)
        let ingress = IngressStore(pool: pool)
        controllers = [
            .init(SecretsBundleReconciler(store: BundleStore(pool: pool), secretStore: secrets)).named(by: instances),
            .init(InstancesReconciler(store: instances, provider: processes, probe: probe, owner: owner)).named(by: instances),
            .init(
                DeclaredPluginsReconciler(
                    store: PluginStore(pool: pool),
                    delivery: InstrumentedPluginDelivery(HTTPPluginDelivery(), provider: "http_plugin_delivery"),
                    probe: probe)
            ).named(by: instances),
            .init(TunnelIngressReconciler(store: ingress, writer: tunnels)).named(by: ingress),
        ]
        sweepers = [
            OrphanSweeper(instances: instances, events: EventStore(pool: pool), provider: processes, owner: owner),
            RetiredIngressSweeper(store: ingress, writer: tunnels),
            OrphanBundleSweeper(secretStore: secrets, workspaces: instances, events: EventStore(pool: pool)),
        ]
        refreshers = [FleetMetrics(store: instances)]
    }
}
