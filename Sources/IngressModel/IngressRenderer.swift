import Crypto
import Foundation
import Providers

/// Renders one tenant's ingress from the single source of truth: every `platform_paths` row
/// becomes a rule for the tenant's hostname to the tenant's URL of that row's service, most
/// specific first, then a hostname-only rule to the tenant's `app` service. The same inputs
/// give the same rules, byte for byte, and the same hash.
public enum IngressRenderer {
    /// What a tenant cannot be rendered for; `description` names the field and the reason.
    public struct Rejection: Error, Sendable, Equatable, CustomStringConvertible {
        public var description: String

        public init(description: String) {
            self.description = description
        }
    }

    /// The service that receives the catch-all of each tenant's hostname.
    public static let defaultService = "app"
    /// The tunnel's last rule: everything no tenant rule matched.
    public static let catchAll = IngressRule(service: "http_status:404")

    /// - Parameters:
    ///   - services: the tenant's service name -> URL.
    ///   - paths: the `platform_paths` rows: pattern -> service name.
    public static func render(hostname: String, services: [String: String], paths: [(pattern: String, service: String)]) throws -> [IngressRule] {
        var parsed: [(PathPattern, String)] = []
        for row in paths {
            do {
                parsed.append((try PathPattern(row.pattern), row.service))
            } catch let rejection as PathPattern.Rejection {
                throw Rejection(description: rejection.description)
            }
        }
        var rules: [IngressRule] = []
        for (pattern, service) in parsed.sorted(by: { $0.0 < $1.0 }) {
            rules.append(IngressRule(hostname: hostname, path: pattern.regex,
                                     service: try url(of: service, in: services, for: "platform_paths.pattern '\(pattern.pattern)'")))
        }
        rules.append(IngressRule(hostname: hostname, service: try url(of: defaultService, in: services, for: "the catch-all rule")))
        return rules
    }

    /// The tunnel's configuration with `hostname`'s rules replaced by `rules`: other hostnames'
    /// rules kept (in their order, hostnames sorted), the catch-all last.
    public static func merge(_ current: TunnelConfiguration?, hostname: String, rules: [IngressRule]) -> TunnelConfiguration {
        let others = (current?.ingress ?? []).filter { $0.hostname != nil && $0.hostname != hostname }
        var byHost: [String: [IngressRule]] = Dictionary(grouping: others, by: { $0.hostname ?? "" })
        byHost[hostname] = rules
        let ordered = byHost.keys.sorted().flatMap { byHost[$0] ?? [] }
        return TunnelConfiguration(ingress: ordered + [catchAll])
    }

    /// SHA-256 of the rules' canonical JSON.
    /// - Throws: the JSON encoder's error if the rules cannot be encoded (never the hash of nothing).
    public static func hash(_ rules: [IngressRule]) throws -> String {
        try sha256(canonicalJSON: rules)
    }

    static func sha256(canonicalJSON value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return SHA256.hash(data: try encoder.encode(value)).map { String(format: "%02x", $0) }.joined()
    }

    /// A service's URL, checked against the forms cloudflared accepts.
    static func url(of service: String, in services: [String: String], for use: String) throws -> String {
        guard let url = services[service]?.trimmingCharacters(in: .whitespaces), !url.isEmpty else {
            throw Rejection(description: "tenants.services: no URL for service '\(service)' (needed by \(use))")
        }
        guard isValidService(url) else {
            throw Rejection(description: "tenants.services.\(service): '\(url)' is not a service cloudflared accepts (http://host:port, https://..., unix:/path, tcp://..., http_status:NNN)")
        }
        return url
    }

    static func isValidService(_ url: String) -> Bool {
        if url == "hello_world" { return true }
        if url.hasPrefix("unix:/") { return url.count > "unix:/".count }
        if url.hasPrefix("http_status:") { return Int(url.dropFirst(12)).map { (100...599).contains($0) } ?? false }
        guard let components = URLComponents(string: url), let scheme = components.scheme,
              ["http", "https", "tcp", "ssh", "rdp"].contains(scheme), let host = components.host, !host.isEmpty,
              !host.contains(" ") else { return false }
        return components.path.isEmpty || components.path == "/"
    }
}
