import Foundation

/// How the Docker provider reaches its engine and what each workspace container gets. Every
/// field has a `run`/`tick` option and an environment variable (README, `## Providers`).
public struct DockerSettings: Sendable, Equatable {
    /// The engine's unix socket. Default `/var/run/docker.sock`.
    public var socketPath: String
    /// The Engine API version pinned in every path (`/v1.41/...`): Debian 12's engine (20.10)
    /// offers at most 1.41; Engine 29 refuses anything below 1.44. Default `1.41`.
    public var apiVersion: String
    /// The workspace image of workspaces whose row names a local image (`local/...`), present
    /// in the engine (no pull: `scripts/build-workspace-image`); other rows' `image` is run as
    /// named. Default `molecule-workspace:latest`.
    public var image: String
    /// `host` (the runtime listens on loopback on a port the provider chooses, reached at
    /// 127.0.0.1) or the name of a network (the runtime listens on every address of the
    /// container, reached at the container's address on that network). Default `host`.
    public var networkMode: String
    /// Memory limit in bytes; 0 for none. Default 512 MiB.
    public var memoryBytes: Int64
    /// CPU limit in CPUs (0.5 is half a CPU); 0 for none. Default 1.
    public var cpus: Double
    /// Most processes and threads in the container; 0 for none. Default 256.
    public var pidsLimit: Int64
    /// Seconds a stopped container has to exit after SIGTERM before SIGKILL. Default 10.
    public var stopGraceSeconds: Int
    /// The file secret store's root on the engine's host: each container gets its own
    /// workspace's bundle directory under it, read-only, and nothing else.
    public var secretStoreRoot: String
    /// Timeout of each Engine API request in milliseconds (a stop waits the grace on top).
    /// Default 30 000.
    public var requestTimeoutMilliseconds: Int

    public init(
        socketPath: String = "/var/run/docker.sock", apiVersion: String = "1.41",
        image: String = "molecule-workspace:latest", networkMode: String = "host",
        memoryBytes: Int64 = 512 << 20, cpus: Double = 1, pidsLimit: Int64 = 256, stopGraceSeconds: Int = 10,
        secretStoreRoot: String, requestTimeoutMilliseconds: Int = 30_000
    ) {
        self.socketPath = socketPath
        self.apiVersion = apiVersion
        self.image = image
        self.networkMode = networkMode
        self.memoryBytes = memoryBytes
        self.cpus = cpus
        self.pidsLimit = pidsLimit
        self.stopGraceSeconds = stopGraceSeconds
        self.secretStoreRoot = secretStoreRoot
        self.requestTimeoutMilliseconds = requestTimeoutMilliseconds
    }

    /// A workspace whose `image` starts with this runs `image` above (the example fleet's and the
    /// local provider's names); any other `image` is run as named.
    public static let localImagePrefix = "local/"

    /// Where bundles are mounted inside a container (the runtime's `--secret-store`).
    static let containerSecretStore = "/run/molecule/secrets"
}
