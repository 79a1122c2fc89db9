import ControllerHost
import Foundation
import LocalProviders
import Postgres
import WorkspaceControllers

/// The controllers this binary runs, on the local providers (the embedded default). The
/// instances, declared-plugins and tunnel-ingress controllers are registered here as they land.
enum Controllers {
    /// - Parameter stateDirectory: where the local providers keep their state (bundles under `secrets/`).
    static func all(pool: PostgresPool, stateDirectory: String) -> [ReconcilerHost.Controller] {
        let secrets = FileSecretStore(root: URL(fileURLWithPath: stateDirectory).appendingPathComponent("secrets"))
        return [
            .init(SecretsBundleReconciler(pool: pool, secretStore: secrets)),
        ]
    }
}
