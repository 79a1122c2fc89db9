import DockerProvider
import Foundation
import LocalProviders
import Providers
import WorkspaceControllers

/// The providers `ProviderOptions` chose, built and checked: a setting that cannot work (a
/// Docker socket missing, an image unknown) fails here, at start-up, as a `ProviderSetupError`
/// naming it — not later as a failure of every key.
struct ProviderSet {
    var secrets: any SecretStore
    var instances: any InstanceProvider
    var tunnels: any TunnelConfigProvider
    /// Calls per second (and burst) the tunnel provider allows.
    var tunnelRate: Double

    static func make(_ options: ProviderOptions, global: GlobalOptions) async throws -> ProviderSet {
        let state = URL(fileURLWithPath: global.stateDirectory)
        let secrets: any SecretStore
        let secretRoot: URL
        switch try options.secretStore {
        case .file:
            secretRoot = state.appendingPathComponent("secrets")
            secrets = FileSecretStore(root: secretRoot)
        }
        let instances: any InstanceProvider
        switch try options.instances {
        case .local:
            instances = LocalProcessProvider(
                directory: state.appendingPathComponent("instances"),
                runtimeExecutable: URL(fileURLWithPath: global.runtimeExecutablePath), secretStoreRoot: secretRoot)
        case .docker:
            // Bind mounts need an absolute source, whatever --state-dir was given as.
            let settings = try options.docker.settings(secretStoreRoot: secretRoot.absoluteURL.standardizedFileURL.path)
            let docker = DockerInstanceProvider(settings: settings)
            try await docker.checkSetup()
            instances = docker
        }
        let tunnels: any TunnelConfigProvider
        let tunnelRate: Double
        switch try options.tunnels {
        case .file:
            tunnels = FileTunnelConfigStore(root: state.appendingPathComponent("tunnels"))
            // Local files have no quota worth the name; the Cloudflare provider keeps the default (3/s).
            tunnelRate = 200
        }
        return ProviderSet(secrets: secrets, instances: instances, tunnels: tunnels, tunnelRate: tunnelRate)
    }
}
