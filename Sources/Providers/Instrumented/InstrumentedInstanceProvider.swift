/// An `InstanceProvider` whose every call is counted and timed (`ProviderMetrics`).
public struct InstrumentedInstanceProvider: InstanceProvider {
    private let wrapped: any InstanceProvider
    private let metrics: ProviderMetrics

    public init(_ wrapped: any InstanceProvider, provider: String) {
        self.wrapped = wrapped
        self.metrics = ProviderMetrics(
            provider: provider, operations: ["create", "list", "list_all", "terminate", "release", "list_held"])
    }

    public func create(_ spec: InstanceSpec) async throws -> InstanceRecord {
        try await metrics.measure("create") { try await wrapped.create(spec) }
    }

    public func list(workspaceID: String) async throws -> [InstanceRecord] {
        try await metrics.measure("list") { try await wrapped.list(workspaceID: workspaceID) }
    }

    public func listAll(owner: String) async throws -> [InstanceRecord] {
        try await metrics.measure("list_all") { try await wrapped.listAll(owner: owner) }
    }

    public var keepsEndedInstances: Bool { wrapped.keepsEndedInstances }

    public func terminate(instanceID: String) async throws {
        try await metrics.measure("terminate") { try await wrapped.terminate(instanceID: instanceID) }
    }

    public func release(workspaceID: String, owner: String) async throws -> Bool {
        try await metrics.measure("release") { try await wrapped.release(workspaceID: workspaceID, owner: owner) }
    }

    public func heldWorkspaces(owner: String) async throws -> [String] {
        try await metrics.measure("list_held") { try await wrapped.heldWorkspaces(owner: owner) }
    }
}
