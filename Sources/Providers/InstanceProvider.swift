/// The compute boundary: one instance per workspace generation (EC2, Docker, local processes).
public protocol InstanceProvider: Sendable {
    /// Launches an instance. Idempotent per `spec.idempotencyToken`: the same token returns the
    /// instance already launched for it, never a second one.
    func create(_ spec: InstanceSpec) async throws -> InstanceRecord
    /// The workspace's instances the provider knows of, terminated ones included while visible.
    /// Right after a create, the new instance may be missing (eventual consistency).
    func list(workspaceID: String) async throws -> [InstanceRecord]
    /// Every instance created with this `owner` (EC2: by the owner tag), of all workspaces, for
    /// finding the orphans of workspaces that no longer exist. Instances of other owners (another
    /// database sharing the account or the state directory) are never listed.
    func listAll(owner: String) async throws -> [InstanceRecord]
    /// Terminates an instance; terminating a terminated one is not an error.
    func terminate(instanceID: String) async throws
    /// Whether an ended instance stays listed until it is terminated (removed) — a Docker
    /// container that exited stays in the engine — so that the orphan sweeper removes the ended
    /// instances nothing wants any more. False (the default) where ended instances go away on
    /// their own (EC2 forgets terminated instances).
    var keepsEndedInstances: Bool { get }
    /// Deletes what the provider holds for a workspace besides its instances (EC2: the
    /// workspace's IAM role and instance profile), once the workspace is deleted and none of its
    /// instances is live. Idempotent; returns whether anything was deleted (a released workspace
    /// costs reads only). Default: nothing held.
    func release(workspaceID: String, owner: String) async throws -> Bool
    /// The workspaces of `owner` for which the provider holds such resources, so that the
    /// orphan sweep releases those whose row is gone. Default: none.
    func heldWorkspaces(owner: String) async throws -> [String]
}

extension InstanceProvider {
    public var keepsEndedInstances: Bool { false }
    public func release(workspaceID: String, owner: String) async throws -> Bool { false }
    public func heldWorkspaces(owner: String) async throws -> [String] { [] }
}

public struct InstanceSpec: Sendable, Equatable {
    public var workspaceID: String
    /// Moves on every replacement (restart, image or template change, remediation).
    public var generation: Int64
    public var image: String
    /// Where the instance finds its staged bundle (secret name or directory).
    public var bundleName: String
    /// The version of that bundle staged for this generation (the Secrets Manager `VersionId`),
    /// when the store names versions: a new generation boots exactly its bundle. nil: the
    /// current one.
    public var bundleVersion: String?
    /// Which database's reconciler launched it (a tag), so that orphan collection never touches
    /// another fleet's instances.
    public var owner: String

    public init(
        workspaceID: String, generation: Int64, image: String, bundleName: String, bundleVersion: String? = nil,
        owner: String = ""
    ) {
        self.workspaceID = workspaceID
        self.bundleVersion = bundleVersion
        self.owner = owner
        self.generation = generation
        self.image = image
        self.bundleName = bundleName
    }

    /// `<workspace>-g<generation>`: the same for every retry of one launch intent (EC2
    /// ClientToken rule), different for every new intent.
    public var idempotencyToken: String { Self.idempotencyToken(workspaceID: workspaceID, generation: generation) }

    /// The one home of the token format.
    public static func idempotencyToken(workspaceID: String, generation: Int64) -> String {
        "\(workspaceID)-g\(generation)"
    }
}

public enum InstanceState: String, Sendable, Codable {
    case pending
    case running
    case shuttingDown = "shutting-down"
    case terminated
    case stopping
    case stopped

    /// Counts towards "at most one live instance per workspace".
    public var isLive: Bool { self == .pending || self == .running || self == .stopping || self == .stopped }
}

public struct InstanceRecord: Sendable, Equatable {
    public var id: String
    public var workspaceID: String
    public var generation: Int64
    public var idempotencyToken: String
    public var state: InstanceState
    /// Where its runtime answers (host:port), once known.
    public var address: String?
    /// What the provider knows of how an instance that is no longer live ended (its exit code,
    /// an OOM kill, the last lines of its log), for the event and `last_error`. Never a secret.
    public var detail: String?

    public init(
        id: String, workspaceID: String, generation: Int64, idempotencyToken: String,
        state: InstanceState, address: String?, detail: String? = nil
    ) {
        self.detail = detail
        self.id = id
        self.workspaceID = workspaceID
        self.generation = generation
        self.idempotencyToken = idempotencyToken
        self.state = state
        self.address = address
    }
}
