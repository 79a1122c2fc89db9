/// One rule of a tunnel's ingress, as Cloudflare's remotely-managed configuration and
/// cloudflared's `config.yml` both spell it: first match wins; the last rule must match
/// everything (no hostname, no path).
public struct IngressRule: Sendable, Equatable, Codable {
    public var hostname: String?
    /// A Go regular expression tested against the request path (unanchored by cloudflared).
    public var path: String?
    public var service: String
    /// cloudflared's per-rule origin settings, as the provider returned them. The reconciler
    /// never renders it: kept on the rules of hostnames it does not own, dropped from its own.
    public var originRequest: JSONValue?

    public init(hostname: String? = nil, path: String? = nil, service: String, originRequest: JSONValue? = nil) {
        self.hostname = hostname
        self.path = path
        self.service = service
        self.originRequest = originRequest
    }
}

/// A tunnel's whole ingress configuration. Providers replace it whole (Cloudflare has no
/// PATCH), so a writer keeps the rules of hostnames it does not own.
public struct TunnelConfiguration: Sendable, Equatable {
    public var ingress: [IngressRule]
    /// The provider's version of what was read (Cloudflare's `version`), when it has one. In a
    /// configuration handed to `write`, the version it was derived from: a provider that can
    /// tell refuses to overwrite a configuration that has moved on since.
    public var version: Int?
    /// The document's fields besides `ingress` (Cloudflare's `originRequest`, `warp-routing`),
    /// as read: not the reconciler's, written back unchanged.
    public var otherFields: [String: JSONValue]

    public init(ingress: [IngressRule], version: Int? = nil, otherFields: [String: JSONValue] = [:]) {
        self.ingress = ingress
        self.version = version
        self.otherFields = otherFields
    }

    /// The rules of one hostname, in order.
    public func rules(for hostname: String) -> [IngressRule] {
        ingress.filter { $0.hostname == hostname }
    }
}

/// The tunnel-configuration boundary (a local cloudflared `config.yml`, Cloudflare's
/// `/cfd_tunnel/{id}/configurations` API).
public protocol TunnelConfigProvider: Sendable {
    /// Names the provider in errors and is the unit of rate limiting (one quota per account).
    var name: String { get }
    /// The tunnel's current configuration, read back; nil when it has none yet. A failure is
    /// thrown: never write over a configuration that could not be read.
    func read(tunnelID: String) async throws -> TunnelConfiguration?
    /// Replaces the tunnel's configuration.
    func write(tunnelID: String, _ configuration: TunnelConfiguration) async throws
}
