import Foundation
import Providers

/// The body of `POST /containers/create`: what `docker inspect` will show of a workspace
/// container, so nothing in it is secret — the bundle name, a port, the labels and the user.
/// The container runs as a user that is not root (the workspace's own uid where the reconciler
/// allocates one), with no capabilities and no way to gain privileges, on a read-only root.
extension DockerInstanceProvider {
    struct ContainerConfig: Encodable {
        struct Mount: Encodable {
            var type = "bind"
            var source: String
            var target: String
            var readOnly = true

            enum CodingKeys: String, CodingKey {
                case type = "Type"
                case source = "Source"
                case target = "Target"
                case readOnly = "ReadOnly"
            }
        }
        struct Restart: Encodable {
            var name = "no"

            enum CodingKeys: String, CodingKey { case name = "Name" }
        }
        struct Host: Encodable {
            var networkMode: String
            var restartPolicy = Restart()
            var mounts: [Mount]
            var memory: Int64
            var nanoCpus: Int64
            var pidsLimit: Int64?
            var readonlyRootfs = true
            var capDrop = ["ALL"]
            var securityOpt = ["no-new-privileges"]

            enum CodingKeys: String, CodingKey {
                case networkMode = "NetworkMode"
                case restartPolicy = "RestartPolicy"
                case mounts = "Mounts"
                case memory = "Memory"
                case nanoCpus = "NanoCpus"
                case pidsLimit = "PidsLimit"
                case readonlyRootfs = "ReadonlyRootfs"
                case capDrop = "CapDrop"
                case securityOpt = "SecurityOpt"
            }
        }
        var image: String
        /// `uid:gid`, numeric (the image has no user database).
        var user: String
        var cmd: [String]
        var env: [String] = []
        var labels: [String: String]
        var stopTimeout: Int
        var hostConfig: Host

        enum CodingKeys: String, CodingKey {
            case image = "Image"
            case user = "User"
            case cmd = "Cmd"
            case env = "Env"
            case labels = "Labels"
            case stopTimeout = "StopTimeout"
            case hostConfig = "HostConfig"
        }
    }

    /// - Parameters:
    ///   - image: the image the container runs (`image(for:)`).
    ///   - user: the uid and gid it runs as (`user(for:)`).
    func containerConfig(_ spec: InstanceSpec, image: String, user: ContainerUser) throws -> Data {
        let directory = Self.bundleDirectoryName(spec.bundleName)
        let host = settings.networkMode == "host"
        let port = host ? try LoopbackPort.free() : Self.networkPort
        var labels = [
            Label.owner: spec.owner, Label.workspace: spec.workspaceID, Label.generation: String(spec.generation),
            Label.token: spec.idempotencyToken,
        ]
        if host { labels[Label.port] = String(port) }
        let config = ContainerConfig(
            image: image, user: "\(user.uid):\(user.gid)",
            cmd: [
                "--secret-store", DockerSettings.containerSecretStore, "--bundle", spec.bundleName,
                "--host", host ? "127.0.0.1" : "0.0.0.0", "--port", String(port),
            ],
            labels: labels, stopTimeout: settings.stopGraceSeconds,
            hostConfig: .init(
                networkMode: settings.networkMode,
                mounts: [
                    .init(
                        source: URL(fileURLWithPath: settings.secretStoreRoot).appendingPathComponent(directory).path,
                        target: "\(DockerSettings.containerSecretStore)/\(directory)")
                ],
                memory: settings.memoryBytes, nanoCpus: Int64(settings.cpus * 1e9),
                pidsLimit: settings.pidsLimit > 0 ? settings.pidsLimit : nil))
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return try encoder.encode(config)
    }

    /// The file secret store's directory of a secret (`/` kept as `%2F`, as `FileSecretStore` does).
    static func bundleDirectoryName(_ name: String) -> String {
        name.replacingOccurrences(of: "/", with: "%2F")
    }
}
