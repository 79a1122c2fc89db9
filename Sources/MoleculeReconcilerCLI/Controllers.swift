import ControllerHost
import Foundation
import LocalProviders
import Postgres
import ReconcileRuntime
import ReconcileStore
import WorkspaceControllers
import WorkspaceStore

/// The controllers this binary runs, on the providers `ProviderOptions` chose (by default the
/// local set: bundles staged as files under `<state>/secrets`, instances as
/// `molecule-workspace-runtime` processes recorded under `<state>/instances`, each tunnel's
/// ingress rendered to `<state>/tunnels/<tunnel_id>/config.yml`); runtimes are probed over HTTP
/// for their status and plugins are delivered to them over HTTP.
struct Controllers {
    var controllers: [ReconcilerHost.Controller]
    var sweepers: [any Sweeper]

    /// Instances are tagged with the database's identity, so that sweeping orphans never
    /// touches the runtimes of another database sharing the state directory or the engine.
    static func make(pool: PostgresPool, global: GlobalOptions, providers: ProviderOptions) async throws -> Controllers {
        let set = try await ProviderSet.make(providers, global: global)
        return Controllers(pool: pool, providers: set, owner: try await DatabaseIdentity.owner(pool))
    }

    init(pool: PostgresPool, providers: ProviderSet, owner: String) {
        let tunnels = TunnelWriter(
            provider: providers.tunnels,
            limiter: ProviderRateLimiter(rate: providers.tunnelRate, burst: Int(providers.tunnelRate)),
            leases: LeaseStore(pool: pool))
        let instances = InstanceStore(pool: pool)
        let ingress = IngressStore(pool: pool)
        controllers = [
            .init(SecretsBundleReconciler(store: BundleStore(pool: pool), secretStore: providers.secrets)),
            .init(
                InstancesReconciler(
                    store: instances, provider: providers.instances, probe: HTTPRuntimeProbe(), owner: owner)),
            .init(
                DeclaredPluginsReconciler(
                    store: PluginStore(pool: pool), delivery: HTTPPluginDelivery(), probe: HTTPRuntimeProbe())),
            .init(TunnelIngressReconciler(store: ingress, writer: tunnels)),
        ]
        sweepers = [
            OrphanSweeper(instances: instances, events: EventStore(pool: pool), provider: providers.instances, owner: owner),
            RetiredIngressSweeper(store: ingress, writer: tunnels),
            OrphanBundleSweeper(secretStore: providers.secrets, workspaces: instances, events: EventStore(pool: pool)),
        ]
    }
}
