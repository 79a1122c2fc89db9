import Foundation
import Providers
import ReconcileRuntime
import ReconcileStore

/// The tunnel provider as the ingress controller and the retired-ingress sweeper share it:
/// every call takes a token of the provider's quota first, and the read-modify-write of one
/// tunnel's configuration (replaced whole; the Cloudflare API has no If-Match) runs one at a
/// time — within this process, and across replicas through a named lease in PostgreSQL.
public struct TunnelWriter: Sendable {
    private let provider: any TunnelConfigProvider
    private let limiter: ProviderRateLimiter
    private let leases: LeaseStore?
    private let tunnels = KeyedSerializer()
    /// This process's name in the tunnel leases.
    private let holder = "tunnel-writer:\(ProcessInfo.processInfo.hostName):\(getpid()):\(UUID().uuidString.prefix(8))"
    /// How long a tunnel's lease lasts if its holder dies mid-write.
    private let leaseSeconds = 30.0

    /// - Parameters:
    ///   - limiter: the provider's quota.
    ///   - leases: where replicas take a tunnel's lease; nil serializes within this process only.
    public init(
        provider: any TunnelConfigProvider, limiter: ProviderRateLimiter = ProviderRateLimiter(), leases: LeaseStore? = nil
    ) {
        self.provider = provider
        self.limiter = limiter
        self.leases = leases
    }

    /// Runs `body` while no other read-modify-write of this tunnel runs, here or in another replica.
    public func serialized<T: Sendable>(_ tunnelID: String, _ body: @Sendable () async throws -> T) async throws -> T {
        try await tunnels.run(tunnelID) {
            guard let leases else { return try await body() }
            let token = try await acquire(tunnelID, leases)
            do {
                let result = try await body()
                try await leases.releaseNamed(group: "tunnel", name: tunnelID, holder: holder, token: token)
                return result
            } catch {
                // The body's error is the one to report; a lease that cannot be given back now
                // expires by itself.
                try? await leases.releaseNamed(group: "tunnel", name: tunnelID, holder: holder, token: token)
                throw error
            }
        }
    }

    /// Waits for the tunnel's lease (another replica's write takes moments; a dead holder's
    /// lease expires).
    private func acquire(_ tunnelID: String, _ leases: LeaseStore) async throws -> Int64 {
        var wait = Duration.milliseconds(20)
        while true {
            if let token = try await leases.acquireNamed(
                group: "tunnel", name: tunnelID, holder: holder, leaseSeconds: leaseSeconds)
            {
                return token
            }
            try await Task.sleep(for: wait)
            wait = min(wait * 2, .milliseconds(500))
        }
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
