import Providers

/// An in-memory tunnel API with Cloudflare's semantics that matter here: a configuration per
/// tunnel replaced whole on every write, a version that moves on each write, and a quota.
/// Counts reads and writes; injects scripted faults on `read` and `write`.
public actor FakeTunnels: TunnelConfigProvider {
    public nonisolated let name = "fake tunnels"
    public private(set) var configurations: [String: TunnelConfiguration] = [:]
    public private(set) var reads = 0
    public private(set) var writes = 0
    /// When each call (read or write) arrived, for checking the caller's rate limit.
    public private(set) var callTimes: [ContinuousClock.Instant] = []
    private var faults = FaultScript()

    public init() {}

    public func inject(_ fault: Fault, on operation: String, times: Int = 1) {
        faults.add(fault, on: operation, times: times)
    }

    /// An edit made behind the reconciler's back (the dashboard, a person).
    public func tamper(_ tunnelID: String, _ change: (inout [IngressRule]) -> Void) {
        var configuration = configurations[tunnelID] ?? TunnelConfiguration(ingress: [])
        change(&configuration.ingress)
        configuration.version = (configuration.version ?? 0) + 1
        configurations[tunnelID] = configuration
    }

    public func read(tunnelID: String) async throws -> TunnelConfiguration? {
        reads += 1
        callTimes.append(.now)
        _ = try await faults.next(for: "read")?.apply(provider: name, operation: "read")
        return configurations[tunnelID]
    }

    public func write(tunnelID: String, _ configuration: TunnelConfiguration) async throws {
        writes += 1
        callTimes.append(.now)
        let loseResponse = try await faults.next(for: "write")?.apply(provider: name, operation: "write") ?? false
        guard let last = configuration.ingress.last, last.hostname == nil, last.path == nil else {
            throw ProviderError(
                .invalid, provider: name, operation: "write",
                message: "Bad Configuration: Validation failed: The last ingress rule must match all URLs")
        }
        var stored = configuration
        stored.version = (configurations[tunnelID]?.version ?? 0) + 1
        configurations[tunnelID] = stored
        if loseResponse {
            throw ProviderError(.timeout, provider: name, operation: "write", message: "no response within the timeout")
        }
    }
}
