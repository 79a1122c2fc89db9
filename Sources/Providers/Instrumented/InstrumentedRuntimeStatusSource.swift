/// A `RuntimeStatusSource` whose every call is counted and timed (`ProviderMetrics`).
public struct InstrumentedRuntimeStatusSource: RuntimeStatusSource {
    private let wrapped: any RuntimeStatusSource
    private let metrics: ProviderMetrics

    public init(_ wrapped: any RuntimeStatusSource, provider: String) {
        self.wrapped = wrapped
        self.metrics = ProviderMetrics(provider: provider, operations: ["status"])
    }

    public func status(of instance: InstanceRecord) async throws -> RuntimeStatus? {
        try await metrics.measure("status") { try await wrapped.status(of: instance) }
    }
}
