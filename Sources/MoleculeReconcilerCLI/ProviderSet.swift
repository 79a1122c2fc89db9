import AWSProviders
import CloudflareProvider
import DockerProvider
import Foundation
import LocalProviders
import Logging
import Providers
import WorkspaceControllers
import WorkspaceModel

/// The providers `ProviderOptions` chose, built and checked: a setting that cannot work (a
/// Docker socket missing, an image unknown, an AWS region or Cloudflare account missing) fails
/// here, at start-up, as a `ProviderSetupError` naming it — not later as a failure of every key.
/// Every provider is wrapped so that its calls are counted and timed
/// (`molecule_provider_requests_total`).
struct ProviderSet {
    var secrets: any SecretStore
    var instances: any InstanceProvider
    /// Asks runtimes for their status directly; nil where health comes from heartbeat rows (EC2).
    var probe: (any RuntimeStatusSource)?
    var tunnels: any TunnelConfigProvider
    /// Calls per second (and burst) the tunnel provider allows.
    var tunnelRate: Double

    static func make(
        _ options: ProviderOptions, global: GlobalOptions, owner: String, isolation: RuntimeIsolation, logger: Logger
    ) async throws -> ProviderSet {
        try checkCombination(options)
        let state = URL(fileURLWithPath: options.stateDirectory(global))
        let secrets: any SecretStore
        // Where staged bundles are on this machine (the local and Docker providers read them there).
        var secretRoot = state.appendingPathComponent("secrets")
        switch try options.secretStore {
        case .file:
            // A bundle is readable by its workspace's runtime user, and only by it.
            var reader: FileSecretStore.Reader?
            if case .perWorkspaceUser(let users) = isolation {
                reader = { name in try WorkspaceBundle.workspaceID(ofSecretName: name).map { try users.user(for: $0) } }
            }
            let store = FileSecretStore(root: secretRoot, reader: reader)
            secretRoot = store.root
            secrets = InstrumentedSecretStore(store, provider: "file_secret_store")
        case .aws:
            secrets = InstrumentedSecretStore(
                try setup { try SecretsManagerStore.make(settings: .init(aws: options.aws.aws, owner: owner)) },
                provider: "aws_secrets_manager")
        }
        let instances: any InstanceProvider
        var probe: (any RuntimeStatusSource)? = InstrumentedRuntimeStatusSource(
            HTTPRuntimeProbe(), provider: "http_runtime_probe")
        switch try options.instances {
        case .local:
            instances = InstrumentedInstanceProvider(
                LocalProcessProvider(
                    directory: state.appendingPathComponent("instances"),
                    runtimeExecutable: URL(fileURLWithPath: options.runtimeExecutablePath),
                    secretStoreRoot: secretRoot, isolation: isolation),
                provider: "local_process")
        case .docker:
            // Bind mounts need an absolute source, whatever --state-dir was given as.
            let settings = try options.docker.settings(secretStoreRoot: secretRoot.absoluteURL.standardizedFileURL.path)
            // Each container runs as its workspace's own user where runtimes are isolated.
            let bundles = URL(fileURLWithPath: settings.secretStoreRoot)
            let docker = DockerInstanceProvider(
                settings: settings,
                users: { workspace, bundle in
                    try isolation.bundleReader(workspaceID: workspace, bundleName: bundle, secretStoreRoot: bundles)
                        .map { ContainerUser(uid: $0.uid, gid: $0.gid) }
                })
            try await docker.checkSetup()
            instances = InstrumentedInstanceProvider(docker, provider: "docker")
        case .ec2:
            guard try options.secretStore == .aws else {
                throw ProviderSetupError(
                    setting: "--secret-store",
                    reason: "EC2 instances boot their bundle from Secrets Manager; use --secret-store aws")
            }
            instances = InstrumentedInstanceProvider(
                try setup { try EC2InstanceProvider.make(settings: try options.aws.ec2()) }, provider: "ec2")
            probe = nil
        }
        let tunnels: any TunnelConfigProvider
        let tunnelRate: Double
        switch try options.tunnels {
        case .file:
            tunnels = InstrumentedTunnelConfigProvider(
                FileTunnelConfigStore(root: state.appendingPathComponent("tunnels")), provider: "file_tunnel_config")
            // Local files have no quota worth the name.
            tunnelRate = 200
        case .cloudflare:
            let settings = try options.cloudflare.settings()
            tunnels = InstrumentedTunnelConfigProvider(
                try setup { try CloudflareTunnelConfigProvider(settings: settings, logger: logger) }, provider: "cloudflare")
            tunnelRate = settings.requestsPerSecond
        }
        return ProviderSet(secrets: secrets, instances: instances, probe: probe, tunnels: tunnels, tunnelRate: tunnelRate)
    }

    /// Runtimes on this machine read their bundle from the file store; EC2 instances boot theirs
    /// from Secrets Manager.
    private static func checkCombination(_ options: ProviderOptions) throws {
        switch (try options.instances, try options.secretStore) {
        case (.local, .file), (.docker, .file), (.ec2, .aws):
            return
        case (.local, .aws), (.docker, .aws):
            throw ProviderSetupError(
                setting: "--secret-store",
                reason:
                    "--instances \(try options.instances.rawValue) reads bundles from the file secret store; use --secret-store file"
            )
        case (.ec2, .file):
            throw ProviderSetupError(
                setting: "--secret-store", reason: "EC2 instances boot their bundle from Secrets Manager; use --secret-store aws")
        }
    }

    /// A provider's own configuration error, as a start-up error naming the setting.
    private static func setup<T>(_ make: () throws -> T) throws -> T {
        do {
            return try make()
        } catch let error as ProviderSetupError {
            throw error
        } catch let error as AWSConfigurationError {
            throw ProviderSetupError(setting: "aws \(error.setting)", reason: error.reason)
        } catch let error as CloudflareSettingsError {
            throw ProviderSetupError(setting: "cloudflare", reason: error.description)
        } catch {
            throw ProviderSetupError(setting: "providers", reason: "\(error)")
        }
    }
}
