import Foundation
import Providers

/// In-memory workspace runtimes, one per instance ID: what they report (`RuntimeStatusSource`)
/// and what they accept (`PluginDelivery`), like `molecule-workspace-runtime` — the management
/// MCP is present exactly when its plugin is installed. Counts every delivery call and injects
/// scripted faults on `install`, `remove` and `status`. A runtime not started has no status yet
/// (nil); one that does not answer is `inject(.error(.unreachable), on: "status")`.
public actor FakeRuntimes: RuntimeStatusSource, PluginDelivery {
    public struct Runtime: Sendable {
        public var ready = true
        public var busySince: Date?
        public var plugins: [String: String] = [:]
        public var bundleHash: String?
    }

    public let managementPlugin: String
    public private(set) var runtimes: [String: Runtime] = [:]
    /// Install calls that reached a runtime (whether or not they succeeded).
    public private(set) var installCalls = 0
    public private(set) var removeCalls = 0
    /// The bearer token each instance last received.
    public private(set) var tokens: [String: String] = [:]
    private var faults = FaultScript()

    public init(managementPlugin: String = "molecule-platform-mcp") {
        self.managementPlugin = managementPlugin
    }

    /// The next `times` calls of `operation` (`install`, `remove`, `status`) meet `fault`.
    public func inject(_ fault: Fault, on operation: String, times: Int = 1) {
        faults.add(fault, on: operation, times: times)
    }

    /// Boots a runtime for an instance (with plugins it installed at boot).
    public func start(_ instanceID: String, plugins: [String: String] = [:]) {
        runtimes[instanceID] = Runtime(plugins: plugins)
    }

    public func stop(_ instanceID: String) {
        runtimes.removeValue(forKey: instanceID)
    }

    public func plugins(of instanceID: String) -> [String: String]? {
        runtimes[instanceID]?.plugins
    }

    /// Changes a runtime behind the reconciler's back (a person, a crash that lost a plugin).
    public func tamper(_ instanceID: String, _ change: (inout Runtime) -> Void) {
        guard var runtime = runtimes[instanceID] else { return }
        change(&runtime)
        runtimes[instanceID] = runtime
    }

    public func status(of instance: InstanceRecord) async throws -> RuntimeStatus? {
        _ = try await faults.next(for: "status")?.apply(provider: "runtime", operation: "status")
        guard let runtime = runtimes[instance.id] else { return nil }
        return RuntimeStatus(
            ready: runtime.ready, busySince: runtime.busySince,
            managementMCPPresent: runtime.plugins[managementPlugin] != nil, plugins: runtime.plugins,
            bundleHash: runtime.bundleHash, reportedAt: Date())
    }

    public func install(plugin: String, ref: String, into instance: InstanceRecord, token: String) async throws {
        installCalls += 1
        try await deliver("install", to: instance, token: token) { $0.plugins[plugin] = ref }
    }

    public func remove(plugin: String, from instance: InstanceRecord, token: String) async throws {
        removeCalls += 1
        try await deliver("remove", to: instance, token: token) { $0.plugins.removeValue(forKey: plugin) }
    }

    /// One delivery call: its scripted fault, the runtime answering, the change, a lost response.
    private func deliver(
        _ operation: String, to instance: InstanceRecord, token: String,
        _ change: (inout Runtime) -> Void
    ) async throws {
        let loseResponse = try await faults.next(for: operation)?.apply(provider: "runtime", operation: operation) ?? false
        guard var runtime = runtimes[instance.id] else {
            throw ProviderError(
                .transient, provider: "runtime", operation: operation, message: "instance \(instance.id) does not answer")
        }
        tokens[instance.id] = token
        change(&runtime)
        runtimes[instance.id] = runtime
        if loseResponse {
            throw ProviderError(.timeout, provider: "runtime", operation: operation, message: "no response within the timeout")
        }
    }
}
