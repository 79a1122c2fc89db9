import Foundation
import Providers

/// The body of `POST /containers/create`: what `docker inspect` will show of a workspace
/// container, so nothing in it is secret — the bundle name, a port and the labels.
extension DockerInstanceProvider {
    struct ContainerConfig: Encodable {
        struct Mount: Encodable {
            var `Type` = "bind"
            var Source: String
            var Target: String
            var ReadOnly = true
        }
        struct Restart: Encodable { var Name = "no" }
        struct Host: Encodable {
            var NetworkMode: String
            var RestartPolicy = Restart()
            var Mounts: [Mount]
            var Memory: Int64
            var NanoCpus: Int64
            var PidsLimit: Int64?
            var ReadonlyRootfs = true
        }
        var Image: String
        var Cmd: [String]
        var Env: [String] = []
        var Labels: [String: String]
        var StopTimeout: Int
        var HostConfig: Host
    }

    func containerConfig(_ spec: InstanceSpec) throws -> Data {
        let directory = Self.bundleDirectoryName(spec.bundleName)
        let host = settings.networkMode == "host"
        let port = host ? try LoopbackPort.free() : Self.networkPort
        var labels = [
            Label.owner: spec.owner, Label.workspace: spec.workspaceID, Label.generation: String(spec.generation),
            Label.token: spec.idempotencyToken,
        ]
        if host { labels[Label.port] = String(port) }
        let config = ContainerConfig(
            Image: settings.image,
            Cmd: [
                "--secret-store", DockerSettings.containerSecretStore, "--bundle", spec.bundleName,
                "--host", host ? "127.0.0.1" : "0.0.0.0", "--port", String(port),
            ],
            Labels: labels, StopTimeout: settings.stopGraceSeconds,
            HostConfig: .init(
                NetworkMode: settings.networkMode,
                Mounts: [
                    .init(
                        Source: URL(fileURLWithPath: settings.secretStoreRoot).appendingPathComponent(directory).path,
                        Target: "\(DockerSettings.containerSecretStore)/\(directory)")
                ],
                Memory: settings.memoryBytes, NanoCpus: Int64(settings.cpus * 1e9),
                PidsLimit: settings.pidsLimit > 0 ? settings.pidsLimit : nil))
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return try encoder.encode(config)
    }

    /// The file secret store's directory of a secret (`/` kept as `%2F`, as `FileSecretStore` does).
    static func bundleDirectoryName(_ name: String) -> String {
        name.replacingOccurrences(of: "/", with: "%2F")
    }
}
