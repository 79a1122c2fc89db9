import Foundation
import Providers

/// Instances as Docker containers, through the Engine API on its unix socket: one container per
/// instance generation, named `molecule-ws-<workspace>-g<generation>` (the idempotency token),
/// so that a repeated create meets the engine's 409 and adopts the container instead of making
/// a second. Labels carry the owner, workspace, generation and port, so a workspace's list and
/// an owner's (the orphan sweeper's) are each one filtered call, and only this database's
/// containers are ever listed. The engine restarts nothing (`RestartPolicy: no`): the
/// reconciler decides. The bundle (secrets and the instance token) reaches the runtime through
/// a read-only bind mount of that workspace's bundle directory alone; no secret is ever in the
/// container's configuration (environment, labels, command), which `docker inspect` shows.
/// Each container runs the workspace row's image (`image(for:)`) as the workspace's own user
/// (`user`), never as root where the reconciler allocates users. Exited containers stay in the
/// engine until removed (`keepsEndedInstances`): the orphan sweeper removes those nothing wants.
public struct DockerInstanceProvider: InstanceProvider {
    public let settings: DockerSettings
    let engine: DockerEngineClient
    private let users: ContainerUserSource?

    /// The runtime's port inside a container on a named network.
    static let networkPort = 8080

    /// - Parameter users: the user each workspace's container runs as, who may read that
    ///   workspace's bundle (the local runtimes' per-workspace uids, `RuntimeIsolation`); nil,
    ///   or nil for a workspace, for the reconciler's own uid and gid.
    public init(settings: DockerSettings, users: ContainerUserSource? = nil) {
        self.settings = settings
        self.engine = DockerEngineClient(settings: settings)
        self.users = users
    }

    public var keepsEndedInstances: Bool { true }

    enum Label {
        static let owner = "molecule.owner"
        static let workspace = "molecule.workspace"
        static let generation = "molecule.generation"
        static let token = "molecule.token"
        static let port = "molecule.port"
    }

    public func create(_ spec: InstanceSpec) async throws -> InstanceRecord {
        let name = try Self.containerName(spec.idempotencyToken)
        let image = image(for: spec)
        let body = try containerConfig(spec, image: image.name, user: try user(for: spec))
        switch try await engine.createContainer(name: name, body: body, image: image) {
        case .created:
            try await engine.startContainer(name)
        case .nameTaken:
            // A create whose answer (or record) was lost: adopt what it made.
            return try await adopt(name: name, spec: spec)
        }
        return try await describeNow(name: name, spec: spec)
    }

    public func list(workspaceID: String) async throws -> [InstanceRecord] {
        try await engine.listContainers(labels: ["\(Label.workspace)=\(workspaceID)"])
            .compactMap(record).sorted { $0.id < $1.id }
    }

    public func listAll(owner: String) async throws -> [InstanceRecord] {
        try await engine.listContainers(labels: ["\(Label.owner)=\(owner)"])
            .compactMap(record).sorted { $0.id < $1.id }
    }

    /// Stop with the grace period, then remove; a container that is gone already is success.
    public func terminate(instanceID: String) async throws {
        try await engine.stopContainer(instanceID, graceSeconds: settings.stopGraceSeconds)
        try await engine.removeContainer(instanceID)
    }

    /// The image a workspace's container runs: the row's `image`, except that an image of the
    /// local provider's (`local/...`, as the example fleet names them; the local provider runs
    /// its one runtime whatever the row says) means this provider's own, `--docker-image`.
    func image(for spec: InstanceSpec) -> ImageChoice {
        if spec.image.isEmpty || spec.image.hasPrefix(DockerSettings.localImagePrefix) {
            return ImageChoice(name: settings.image, setting: "--docker-image")
        }
        return ImageChoice(name: spec.image, setting: "workspaces.image")
    }

    /// The uid and gid the workspace's container runs as.
    func user(for spec: InstanceSpec) throws -> ContainerUser {
        do {
            if let user = try users?(spec.workspaceID, spec.bundleName) { return user }
        } catch let error as ProviderError {
            throw error
        } catch {
            throw ProviderError(
                .transient, provider: "instances", operation: "create",
                message: "cannot choose the container's user: \(error)")
        }
        return ContainerUser(uid: geteuid(), gid: getegid())
    }

    /// The container a lost create left: started if it never was, described if it runs, and
    /// if it ended (crashed, killed, exited at boot) its exit and the end of its log are kept
    /// in the record's detail and the container is removed — its generation is spent.
    private func adopt(name: String, spec: InstanceSpec) async throws -> InstanceRecord {
        guard let existing = try await engine.inspectContainer(name) else {
            throw ProviderError(
                .transient, provider: "instances", operation: "create",
                message: "Docker Engine: container \(name) was taken and is gone; creating it again")
        }
        guard existing.labels[Label.owner] == spec.owner, existing.labels[Label.token] == spec.idempotencyToken else {
            throw ProviderError(
                .invalid, provider: "instances", operation: "create",
                message: "Docker Engine: container \(name) exists and was not made by this reconciler (other labels)")
        }
        switch existing.state {
        case "created":
            try await engine.startContainer(name)
            return try await describeNow(name: name, spec: spec)
        case "exited", "dead":
            return try await collect(existing, spec: spec)
        default:
            return try record(existing) ?? placeholder(name: name, spec: spec)
        }
    }

    /// The container just started, as it is now (one that exited at once is collected).
    private func describeNow(name: String, spec: InstanceSpec) async throws -> InstanceRecord {
        guard let container = try await engine.inspectContainer(name) else { return placeholder(name: name, spec: spec) }
        if container.state == "exited" || container.state == "dead" { return try await collect(container, spec: spec) }
        return try record(container) ?? placeholder(name: name, spec: spec)
    }

    /// An ended container of this launch intent: its exit and the end of its log go into the
    /// record's detail, and the container is removed (its generation is spent; the reconciler
    /// starts the next one).
    private func collect(_ container: DockerContainer, spec: InstanceSpec) async throws -> InstanceRecord {
        let detail = await ending(of: container)
        try await engine.removeContainer(container.name)
        var ended = try record(container) ?? placeholder(name: container.name, spec: spec)
        ended.state = .terminated
        ended.address = nil
        ended.detail = detail
        return ended
    }

    /// What became of an ended container: its exit code, an OOM kill, the last lines of its log
    /// (the runtime never logs a secret value; the lines are escaped and bounded).
    private func ending(of container: DockerContainer) async -> String {
        var words = "container \(container.name) \(container.state)"
        if let code = container.exitCode { words += " with exit code \(code)" }
        if container.oomKilled { words += " (killed for lack of memory: setting docker-memory)" }
        if let tail = try? await engine.logTail(container.name, lines: 20) {
            let summary = DockerLogStream.summary(tail)
            if !summary.isEmpty { words += "; last log lines: \(summary)" }
        }
        return words
    }

    private func placeholder(name: String, spec: InstanceSpec) -> InstanceRecord {
        InstanceRecord(
            id: name, workspaceID: spec.workspaceID, generation: spec.generation,
            idempotencyToken: spec.idempotencyToken, state: .terminated, address: nil)
    }

    /// The record of a container this provider made (nil for one without its labels).
    private func record(_ container: DockerContainer) throws -> InstanceRecord? {
        guard let workspace = container.labels[Label.workspace],
            let generation = container.labels[Label.generation].flatMap(Int64.init)
        else { return nil }
        let state = Self.state(container.state)
        return InstanceRecord(
            id: container.name, workspaceID: workspace, generation: generation,
            idempotencyToken: container.labels[Label.token]
                ?? InstanceSpec.idempotencyToken(workspaceID: workspace, generation: generation),
            state: state, address: state == .running ? address(container) : nil)
    }

    private func address(_ container: DockerContainer) -> String? {
        if settings.networkMode == "host" {
            return container.labels[Label.port].map { "127.0.0.1:\($0)" }
        }
        return container.addresses[settings.networkMode].map { "\($0):\(Self.networkPort)" }
    }

    /// The engine's state word as the provider's. A container never started (the reconciler
    /// died between create and start) is not live: the next create of its generation meets
    /// the name, adopts it and starts it. A paused one answers nothing: live, not running.
    static func state(_ word: String) -> InstanceState {
        switch word {
        case "running": .running
        case "restarting": .pending
        case "paused": .stopped
        case "removing": .shuttingDown
        default: .terminated
        }
    }

    /// The container name of a launch intent: its idempotency token, prefixed.
    static func containerName(_ token: String) throws -> String {
        let name = "molecule-ws-\(token)"
        guard name.count <= 200, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "_.-".contains($0)) }) else {
            throw ProviderError(
                .invalid, provider: "instances", operation: "create",
                message: "'\(token)' cannot name a container ([A-Za-z0-9_.-], 200 characters)")
        }
        return name
    }
}
