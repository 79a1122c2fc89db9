import ArgumentParser
import Foundation

/// Which provider serves each boundary, for `run` and `tick`: a flag, else its environment
/// variable, else the embedded local set. Each provider's own settings are an option group of
/// their own (`DockerOptions`...); adding a provider is one case here and one group.
struct ProviderOptions: ParsableArguments {
    enum Instances: String, ExpressibleByArgument, CaseIterable, Sendable {
        /// `molecule-workspace-runtime` processes on this machine.
        case local
        /// Containers on a Docker Engine (`DockerOptions`).
        case docker
        /// EC2 instances (`AWSOptions`); health from the platform's heartbeats.
        case ec2
    }

    enum SecretStore: String, ExpressibleByArgument, CaseIterable, Sendable {
        /// Files under `<state>/secrets`.
        case file
        /// AWS Secrets Manager (`AWSOptions`).
        case aws
    }

    enum Tunnels: String, ExpressibleByArgument, CaseIterable, Sendable {
        /// cloudflared `config.yml` files under `<state>/tunnels`.
        case file
        /// Cloudflare's tunnel configuration API (`CloudflareOptions`).
        case cloudflare
    }

    @Option(
        name: .customLong("instances"),
        help: "Instance provider: local, docker or ec2 (default: $MOLECULE_INSTANCES, then local).")
    var instancesOption: Instances?

    @Option(name: .customLong("secret-store"), help: "Secret store: file or aws (default: $MOLECULE_SECRET_STORE, then file).")
    var secretStoreOption: SecretStore?

    @Option(
        name: .customLong("tunnels"),
        help: "Tunnel configuration provider: file or cloudflare (default: $MOLECULE_TUNNELS, then file).")
    var tunnelsOption: Tunnels?

    @OptionGroup var state: StateOptions

    @Option(name: .long, help: "The molecule-workspace-runtime binary the local instances run (default: beside this binary).")
    var runtimeExecutable: String?

    @OptionGroup(title: "Docker provider (--instances docker)") var docker: DockerOptions

    @OptionGroup(title: "AWS providers (--instances ec2, --secret-store aws)") var aws: AWSOptions

    @OptionGroup(title: "Cloudflare provider (--tunnels cloudflare)") var cloudflare: CloudflareOptions

    func stateDirectory(_ global: GlobalOptions) -> String { state.stateDirectory(global) }

    var runtimeExecutablePath: String {
        runtimeExecutable
            ?? (Bundle.main.executableURL ?? URL(fileURLWithPath: CommandLine.arguments[0]))
            .deletingLastPathComponent().appendingPathComponent("molecule-workspace-runtime").path
    }

    func validate() throws {
        _ = try instances
        _ = try secretStore
        _ = try tunnels
    }

    var instances: Instances {
        get throws { try Self.choice(instancesOption, "--instances", "MOLECULE_INSTANCES", default: .local) }
    }

    var secretStore: SecretStore {
        get throws { try Self.choice(secretStoreOption, "--secret-store", "MOLECULE_SECRET_STORE", default: .file) }
    }

    var tunnels: Tunnels {
        get throws { try Self.choice(tunnelsOption, "--tunnels", "MOLECULE_TUNNELS", default: .file) }
    }

    /// The flag's value, else the environment's (refused with the choices when it is none of
    /// them), else the default.
    static func choice<T: RawRepresentable & CaseIterable>(
        _ flag: T?, _ option: String, _ variable: String, default fallback: T
    ) throws -> T where T.RawValue == String {
        if let flag { return flag }
        guard let text = ProcessInfo.processInfo.environment[variable], !text.isEmpty else { return fallback }
        guard let value = T(rawValue: text) else {
            let choices = T.allCases.map(\.rawValue).joined(separator: ", ")
            throw ValidationError("\(option) (from $\(variable)): must be one of \(choices), got '\(text)'")
        }
        return value
    }
}
