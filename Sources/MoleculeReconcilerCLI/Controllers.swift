import ControllerHost
import Foundation
import LocalProviders
import Postgres
import WorkspaceControllers

/// The controllers this binary runs, on the local providers (the embedded default): bundles
/// staged as files under `<state>/secrets`, instances as `molecule-workspace-runtime` processes
/// recorded under `<state>/instances`, probed over HTTP for their status. The declared-plugins
/// and tunnel-ingress controllers are registered here when they land.
enum Controllers {
    static func all(pool: PostgresPool, global: GlobalOptions) -> [ReconcilerHost.Controller] {
        let state = URL(fileURLWithPath: global.stateDirectory)
        let secrets = FileSecretStore(root: state.appendingPathComponent("secrets"))
        let processes = LocalProcessProvider(directory: state.appendingPathComponent("instances"),
                                             runtimeExecutable: URL(fileURLWithPath: global.runtimeExecutablePath),
                                             secretStoreRoot: secrets.root)
        return [
            .init(SecretsBundleReconciler(pool: pool, secretStore: secrets)),
            .init(InstancesReconciler(pool: pool, provider: processes, probe: HTTPRuntimeProbe())),
        ]
    }
}
