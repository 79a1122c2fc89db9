import ArgumentParser
import DockerProvider
import Foundation

/// The Docker provider's settings (`--instances docker`): each a flag, else its
/// `MOLECULE_DOCKER_*` variable, else the default written in `DockerSettings`.
struct DockerOptions: ParsableArguments {
    @Option(
        name: .customLong("docker-socket"), help: "Docker Engine unix socket ($MOLECULE_DOCKER_SOCKET; /var/run/docker.sock).")
    var socket: String?

    @Option(
        name: .customLong("docker-api-version"),
        help: "Engine API version pinned in every path ($MOLECULE_DOCKER_API_VERSION; 1.41).")
    var apiVersion: String?

    @Option(
        name: .customLong("docker-image"),
        help: "Workspace image, built locally ($MOLECULE_DOCKER_IMAGE; molecule-workspace:latest).")
    var image: String?

    @Option(name: .customLong("docker-network"), help: "host, or a network name ($MOLECULE_DOCKER_NETWORK; host).")
    var network: String?

    @Option(
        name: .customLong("docker-memory-mb"),
        help: "Memory limit per container in MiB, 0 for none ($MOLECULE_DOCKER_MEMORY_MB; 512).")
    var memoryMB: Int64?

    @Option(name: .customLong("docker-cpus"), help: "CPU limit per container, 0 for none ($MOLECULE_DOCKER_CPUS; 1).")
    var cpus: Double?

    @Option(
        name: .customLong("docker-pids-limit"),
        help: "Process limit per container, 0 for none ($MOLECULE_DOCKER_PIDS_LIMIT; 256).")
    var pidsLimit: Int64?

    @Option(
        name: .customLong("docker-stop-grace"),
        help: "Seconds between SIGTERM and SIGKILL on stop ($MOLECULE_DOCKER_STOP_GRACE; 10).")
    var stopGrace: Int?

    func validate() throws {
        _ = try settings(secretStoreRoot: "/")
    }

    /// The settings, bundles mounted from the file secret store at `secretStoreRoot`.
    func settings(secretStoreRoot: String) throws -> DockerSettings {
        var settings = DockerSettings(secretStoreRoot: secretStoreRoot)
        settings.socketPath = try SettingLookup.parsed(socket, "--docker-socket", "MOLECULE_DOCKER_SOCKET") ?? settings.socketPath
        settings.apiVersion =
            try SettingLookup.parsed(apiVersion, "--docker-api-version", "MOLECULE_DOCKER_API_VERSION") ?? settings.apiVersion
        settings.image = try SettingLookup.parsed(image, "--docker-image", "MOLECULE_DOCKER_IMAGE") ?? settings.image
        settings.networkMode =
            try SettingLookup.parsed(network, "--docker-network", "MOLECULE_DOCKER_NETWORK") ?? settings.networkMode
        if let megabytes = try SettingLookup.parsed(memoryMB, "--docker-memory-mb", "MOLECULE_DOCKER_MEMORY_MB") {
            settings.memoryBytes = megabytes << 20
        }
        settings.cpus = try SettingLookup.parsed(cpus, "--docker-cpus", "MOLECULE_DOCKER_CPUS") ?? settings.cpus
        settings.pidsLimit =
            try SettingLookup.parsed(pidsLimit, "--docker-pids-limit", "MOLECULE_DOCKER_PIDS_LIMIT") ?? settings.pidsLimit
        settings.stopGraceSeconds =
            try SettingLookup.parsed(stopGrace, "--docker-stop-grace", "MOLECULE_DOCKER_STOP_GRACE") ?? settings.stopGraceSeconds
        guard settings.memoryBytes >= 0, settings.cpus >= 0, settings.pidsLimit >= 0, settings.stopGraceSeconds >= 0 else {
            throw ValidationError(
                "--docker-memory-mb, --docker-cpus, --docker-pids-limit and --docker-stop-grace must not be negative")
        }
        return settings
    }
}
