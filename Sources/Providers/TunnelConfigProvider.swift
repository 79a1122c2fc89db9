/// One rule of a tunnel's ingress, as Cloudflare's remotely-managed configuration and
/// cloudflared's `config.yml` both spell it: first match wins; the last rule must match
/// everything (no hostname, no path).
public struct IngressRule: Sendable, Equatable, Codable {
    public var hostname: String?
    /// A Go regular expression tested against the request path (unanchored by cloudflared).
    public var path: String?
    public var service: String

    public init(hostname: String? = nil, path: String? = nil, service: String) {
        self.hostname = hostname
        self.path = path
        self.service = service
    }
}

/// A tunnel's whole ingress configuration. Providers replace it whole (Cloudflare has no
/// PATCH), so a writer keeps the rules of hostnames it does not own.
public struct TunnelConfiguration: Sendable, Equatable {
    public var ingress: [IngressRule]
    /// The provider's version of what was read (Cloudflare's `version`), when it has one.
    public var version: Int?

    public init(ingress: [IngressRule], version: Int? = nil) {
        self.ingress = ingress
        self.version = version
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
