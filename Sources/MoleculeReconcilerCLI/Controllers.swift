import ControllerHost
import Foundation
import LocalProviders
import Postgres
import ReconcileRuntime
import WorkspaceControllers
import WorkspaceStore

/// The controllers this binary runs, on the local providers (the embedded default): bundles
/// staged as files under `<state>/secrets`, instances as `molecule-workspace-runtime` processes
/// recorded under `<state>/instances`, probed over HTTP for their status, plugins delivered to
/// them over HTTP, and each tunnel's ingress rendered to `<state>/tunnels/<tunnel_id>/config.yml`.
struct Controllers {
    var controllers: [ReconcilerHost.Controller]
    var sweepers: [any Sweeper]

    /// Instances are tagged with the database's identity, so that sweeping orphans never
    /// touches the runtimes of another database sharing the state directory.
    static func make(pool: PostgresPool, global: GlobalOptions) async throws -> Controllers {
        Controllers(pool: pool, global: global, owner: try await DatabaseIdentity.owner(pool))
    }

    init(pool: PostgresPool, global: GlobalOptions, owner: String) {
        let state = URL(fileURLWithPath: global.stateDirectory)
        let secrets = FileSecretStore(root: state.appendingPathComponent("secrets"))
        let processes = LocalProcessProvider(directory: state.appendingPathComponent("instances"),
                                             runtimeExecutable: URL(fileURLWithPath: global.runtimeExecutablePath),
                                             secretStoreRoot: secrets.root)
        // Local files have no quota worth the name; the Cloudflare provider keeps the default (3/s).
        let ingress = TunnelIngressReconciler(pool: pool, provider: FileTunnelConfigStore(root: state.appendingPathComponent("tunnels")),
                                              limiter: ProviderRateLimiter(rate: 200, burst: 200))
        controllers = [
            .init(SecretsBundleReconciler(pool: pool, secretStore: secrets)),
            .init(InstancesReconciler(pool: pool, provider: processes, probe: HTTPRuntimeProbe(), owner: owner)),
            .init(DeclaredPluginsReconciler(pool: pool, delivery: HTTPPluginDelivery(), probe: HTTPRuntimeProbe())),
            .init(ingress),
        ]
        sweepers = [OrphanSweeper(pool: pool, provider: processes, owner: owner), RetiredIngressSweeper(ingress)]
    }
}
