/// A `TunnelConfigProvider` whose every call is counted and timed (`ProviderMetrics`).
public struct InstrumentedTunnelConfigProvider: TunnelConfigProvider {
    private let wrapped: any TunnelConfigProvider
    private let metrics: ProviderMetrics

    public init(_ wrapped: any TunnelConfigProvider, provider: String) {
        self.wrapped = wrapped
        self.metrics = ProviderMetrics(provider: provider, operations: ["read", "write"])
    }

    public var name: String { wrapped.name }

    public func read(tunnelID: String) async throws -> TunnelConfiguration? {
        try await metrics.measure("read") { try await wrapped.read(tunnelID: tunnelID) }
    }

    public func write(tunnelID: String, _ configuration: TunnelConfiguration) async throws {
        try await metrics.measure("write") { try await wrapped.write(tunnelID: tunnelID, configuration) }
    }
}
