import Providers
import ReconcileRuntime

/// The tunnel provider as the ingress controller and the retired-ingress sweeper share it:
/// every call takes a token of the provider's quota first, and the read-modify-write of one
/// tunnel's configuration runs one at a time (it is replaced whole).
public struct TunnelWriter: Sendable {
    private let provider: any TunnelConfigProvider
    private let limiter: ProviderRateLimiter
    private let tunnels = KeyedSerializer()

    /// - Parameter limiter: the provider's quota.
    public init(provider: any TunnelConfigProvider, limiter: ProviderRateLimiter = ProviderRateLimiter()) {
        self.provider = provider
        self.limiter = limiter
    }

    /// Runs `body` while no other read-modify-write of this tunnel runs in this process.
    public func serialized<T: Sendable>(_ tunnelID: String, _ body: @Sendable () async throws -> T) async throws -> T {
        try await tunnels.run(tunnelID, body)
    }

    public func read(_ tunnelID: String, actions: ActionLog) async throws -> TunnelConfiguration? {
        try await limiter.acquire()
        actions.record("tunnel.read", mutating: false)
        return try await provider.read(tunnelID: tunnelID)
    }

    public func write(_ tunnelID: String, _ configuration: TunnelConfiguration, actions: ActionLog) async throws {
        try await limiter.acquire()
        actions.record("tunnel.write", mutating: true)
        try await provider.write(tunnelID: tunnelID, configuration)
    }
}
