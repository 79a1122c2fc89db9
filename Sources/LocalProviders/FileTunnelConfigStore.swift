import Dispatch
import Foundation
import Providers
import Yams

/// The embedded default's tunnel provider: each tunnel's ingress rendered to
/// `<root>/<tunnel_id>/config.yml` in cloudflared's format (what `cloudflared tunnel --config`
/// reads), written atomically. Reading parses the file back, so an edit made by hand is seen
/// and repaired. Only a missing file means "no configuration yet"; a file that cannot be read,
/// is not UTF-8 or is not valid YAML is reported, never overwritten.
public struct FileTunnelConfigStore: TunnelConfigProvider {
    public let name = "local tunnel config"
    public let root: URL
    private let queue = DispatchQueue(label: "molecule.tunnel-config")

    public init(root: URL) {
        self.root = root
    }

    public func file(tunnelID: String) throws -> URL {
        guard TunnelID.isValid(tunnelID) else {
            throw ProviderError(
                .invalid, provider: name, operation: "path",
                message:
                    "tenants.tunnel_id: '\(tunnelID.prefix(64))' must be 1-128 of [A-Za-z0-9_-], starting with a letter or digit")
        }
        return root.appendingPathComponent(tunnelID).appendingPathComponent("config.yml")
    }

    public func read(tunnelID: String) async throws -> TunnelConfiguration? {
        let url = try file(tunnelID: tunnelID)
        return try await onQueue {
            guard let text = try Self.text(of: url, tunnelID: tunnelID, provider: name) else { return nil }
            return try Self.parse(text, file: url.path, provider: name)
        }
    }

    /// The file's text; nil only when it does not exist. A read that fails is retried (someone
    /// may fix the permissions); bytes that are not UTF-8 wait for the file to be fixed.
    private static func text(of url: URL, tunnelID: String, provider: String) throws -> String? {
        let data: Data?
        do {
            data = try FileContents.readIfPresent(url)
        } catch {
            throw ProviderError(
                .transient, provider: provider, operation: "read",
                message: "cannot read the configuration of tunnel \(tunnelID) (\(url.path)): \(error); it is not overwritten")
        }
        guard let data else { return nil }
        guard let text = String(validating: data, as: UTF8.self) else {
            throw ProviderError(
                .invalid, provider: provider, operation: "read",
                message:
                    "the configuration of tunnel \(tunnelID) (\(url.path)) is not UTF-8 text; fix or remove it (it is not overwritten)"
            )
        }
        return text
    }

    public func write(tunnelID: String, _ configuration: TunnelConfiguration) async throws {
        let url = try file(tunnelID: tunnelID)
        try await onQueue {
            do {
                try FileManager.default.createDirectory(
                    at: url.deletingLastPathComponent(), withIntermediateDirectories: true,
                    attributes: [.posixPermissions: 0o700])
                try AtomicFile.write(Data(Self.render(configuration, tunnelID: tunnelID).utf8), to: url, permissions: 0o644)
            } catch {
                throw ProviderError(
                    .transient, provider: name, operation: "write",
                    message: "cannot write the configuration of tunnel \(tunnelID): \(FileSystemFailure.reason(error))")
            }
        }
    }

    /// cloudflared's `config.yml`; strings double-quoted (JSON escapes are YAML escapes), so any
    /// value round-trips.
    static func render(_ configuration: TunnelConfiguration, tunnelID: String) -> String {
        var lines = [
            "# Managed by molecule-reconciler from platform_paths and tenants; manual edits are repaired.",
            "tunnel: \(quoted(tunnelID))", "ingress:",
        ]
        for rule in configuration.ingress {
            var fields: [String] = []
            if let hostname = rule.hostname { fields.append("hostname: \(quoted(hostname))") }
            if let path = rule.path { fields.append("path: \(quoted(path))") }
            fields.append("service: \(quoted(rule.service))")
            lines.append("  - " + fields.joined(separator: "\n    "))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func parse(_ text: String, file: String, provider: String) throws -> TunnelConfiguration {
        let document: Any?
        do {
            document = try Yams.load(yaml: text)
        } catch {
            throw ProviderError(
                .invalid, provider: provider, operation: "read",
                message: "\(file) is not valid YAML; fix or remove it (it is not overwritten)")
        }
        guard let top = document as? [String: Any] else { return TunnelConfiguration(ingress: []) }
        let entries = top["ingress"] as? [Any] ?? []
        let rules = try entries.map { entry -> IngressRule in
            guard let fields = entry as? [String: Any], let service = fields["service"] as? String else {
                throw ProviderError(
                    .invalid, provider: provider, operation: "read",
                    message: "\(file): every ingress rule needs a service")
            }
            return IngressRule(hostname: fields["hostname"] as? String, path: fields["path"] as? String, service: service)
        }
        return TunnelConfiguration(ingress: rules)
    }

    /// A YAML double-quoted scalar: `"` and `\` escaped, and every character YAML does not take
    /// as it is inside quotes (controls, DEL, line breaks, non-characters) as an escape.
    private static func quoted(_ value: String) -> String {
        var text = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": text += "\\\""
            case "\\": text += "\\\\"
            case "\n": text += "\\n"
            case "\r": text += "\\r"
            case "\t": text += "\\t"
            case " "..."~", "\u{A0}"..."\u{2027}", "\u{202A}"..."\u{D7FF}", "\u{E000}"..."\u{FFFD}", "\u{10000}"...:
                text.unicodeScalars.append(scalar)
            default: text += String(format: "\\u%04X", scalar.value)
            }
        }
        return text + "\""
    }

    private func onQueue<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try work() }) }
        }
    }
}
