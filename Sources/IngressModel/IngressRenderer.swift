import Crypto
import Foundation
import Providers
import ReconcileRuntime

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

    /// A `platform_paths` row one tenant cannot serve (a pattern the rules refuse, a service
    /// the tenant has no valid URL for): left out of that tenant's rules, and said.
    public struct SkippedPath: Sendable, Equatable, Codable {
        public var pattern: String
        public var reason: String

        public init(pattern: String, reason: String) {
            self.pattern = pattern
            self.reason = reason
        }
    }

    /// A tenant's rules, and the paths left out of them.
    public struct Rendering: Sendable, Equatable {
        public var rules: [IngressRule]
        public var skipped: [SkippedPath]
    }

    /// Decides per `platform_paths` row: a row that cannot serve this tenant is skipped (and
    /// listed), every other row still reaches it — one bad row never freezes every tenant's
    /// ingress. Only what is the tenant's own (its `app` service, for the catch-all of its
    /// hostname) fails the tenant.
    /// - Parameters:
    ///   - services: the tenant's service name -> URL.
    ///   - paths: the `platform_paths` rows: pattern -> service name.
    /// - Throws: `Rejection` when the tenant's `app` service has no valid URL.
    public static func render(hostname: String, services: [String: String], paths: [(pattern: String, service: String)]) throws
        -> Rendering
    {
        var routed: [(PathPattern, String)] = []
        var skipped: [SkippedPath] = []
        for row in paths {
            do {
                let pattern = try PathPattern(row.pattern)
                routed.append((pattern, try url(of: row.service, in: services, for: "platform_paths.pattern '\(row.pattern)'")))
            } catch let rejection as PathPattern.Rejection {
                skipped.append(SkippedPath(pattern: row.pattern, reason: rejection.description))
            } catch let rejection as Rejection {
                skipped.append(SkippedPath(pattern: row.pattern, reason: rejection.description))
            }
        }
        var rules = routed.sorted { $0.0 < $1.0 }.map { IngressRule(hostname: hostname, path: $0.0.regex, service: $0.1) }
        rules.append(
            IngressRule(hostname: hostname, service: try url(of: defaultService, in: services, for: "the catch-all rule")))
        return Rendering(rules: rules, skipped: skipped.sorted { $0.pattern < $1.pattern })
    }

    /// The tunnel's configuration with `hostname`'s rules replaced by `rules`: other hostnames'
    /// rules kept (in their order, hostnames sorted), the catch-all last; the document's other
    /// fields kept, and the version it was derived from.
    public static func merge(_ current: TunnelConfiguration?, hostname: String, rules: [IngressRule]) -> TunnelConfiguration {
        let others = (current?.ingress ?? []).filter { $0.hostname != nil && $0.hostname != hostname }
        var byHost: [String: [IngressRule]] = Dictionary(grouping: others, by: { $0.hostname ?? "" })
        byHost[hostname] = rules
        let ordered = byHost.keys.sorted().flatMap { byHost[$0] ?? [] }
        return TunnelConfiguration(
            ingress: ordered + [catchAll], version: current?.version, otherFields: current?.otherFields ?? [:])
    }

    /// SHA-256 of the rules' canonical JSON.
    /// - Throws: the JSON encoder's error if the rules cannot be encoded (never the hash of nothing).
    public static func hash(_ rules: [IngressRule]) throws -> String {
        try sha256(canonicalJSON: rules)
    }

    static func sha256(canonicalJSON value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Hex.string(SHA256.hash(data: try encoder.encode(value)))
    }

    /// A service's URL, checked against the forms cloudflared accepts.
    static func url(of service: String, in services: [String: String], for use: String) throws -> String {
        guard let url = services[service]?.trimmingCharacters(in: .whitespaces), !url.isEmpty else {
            throw Rejection(description: "tenants.services: no URL for service '\(service)' (needed by \(use))")
        }
        guard isValidService(url) else {
            throw Rejection(
                description:
                    "tenants.services.\(service): '\(url)' is not a service cloudflared accepts (http://host:port, https://..., unix:/path, tcp://..., http_status:NNN)"
            )
        }
        return url
    }

    static func isValidService(_ url: String) -> Bool {
        if url == "hello_world" { return true }
        if url.hasPrefix("unix:/") { return url.count > "unix:/".count }
        if url.hasPrefix("http_status:") { return Int(url.dropFirst(12)).map { (100...599).contains($0) } ?? false }
        guard let components = URLComponents(string: url), let scheme = components.scheme,
            ["http", "https", "tcp", "ssh", "rdp"].contains(scheme), let host = components.host, !host.isEmpty,
            !host.contains(" ")
        else { return false }
        return components.path.isEmpty || components.path == "/"
    }
}
