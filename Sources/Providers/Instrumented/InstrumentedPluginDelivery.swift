/// A `PluginDelivery` whose every call is counted and timed (`ProviderMetrics`).
public struct InstrumentedPluginDelivery: PluginDelivery {
    private let wrapped: any PluginDelivery
    private let metrics: ProviderMetrics

    public init(_ wrapped: any PluginDelivery, provider: String) {
        self.wrapped = wrapped
        self.metrics = ProviderMetrics(provider: provider, operations: ["install", "remove"])
    }

    public func install(plugin: String, ref: String, into instance: InstanceRecord, token: String) async throws {
        try await metrics.measure("install") { try await wrapped.install(plugin: plugin, ref: ref, into: instance, token: token) }
    }

    public func remove(plugin: String, from instance: InstanceRecord, token: String) async throws {
        try await metrics.measure("remove") { try await wrapped.remove(plugin: plugin, from: instance, token: token) }
    }
}
