import Foundation
import Postgres
import Providers
import ReconcileRuntime
import WorkspaceModel
import WorkspaceStore

/// Delivers each workspace's declared plugins into its running instance and removes the ones
/// no longer declared (seed 001). It never looks at the workspace's phase: a `failed`
/// workspace whose runtime lacks the management MCP gets it delivered here, which is what lets
/// it climb back online. Privileged plugins reach only `platform` workspaces, whatever row got
/// in (fail closed). Plugins that load only at boot travel in the bundle instead, and the
/// instances controller restarts under its restart policy. The per-workspace backoff lives in
/// `plugin_installs` (attempts, next_attempt_at), so a restarted reconciler keeps it.
public struct DeclaredPluginsReconciler: Reconciler {
    public let name = "plugin_installs"
    private let plugins: PluginStore
    private let status: WorkspaceStatusStore
    private let delivery: any PluginDelivery
    private let probe: (any RuntimeStatusSource)?

    /// - Parameter probe: asks runtimes what they have installed; without it the controller
    ///   reads the `plugins` the platform's heartbeat writes into `workspace_runtime_status`.
    public init(pool: PostgresPool, delivery: any PluginDelivery, probe: (any RuntimeStatusSource)? = nil) {
        self.plugins = PluginStore(pool: pool)
        self.status = WorkspaceStatusStore(pool: pool)
        self.delivery = delivery
        self.probe = probe
    }

    public func reconcile(_ request: ReconcileRequest) async throws -> ReconcileOutcome {
        guard let inputs = try await plugins.selectInputs(workspaceID: request.key) else { return .done }
        let invalid = inputs.declared.filter { !Self.isValidName($0.plugin) }.map(\.plugin)
        let declared = inputs.declared.filter { Self.isValidName($0.plugin) }.map {
            PluginPlan.Declared(name: $0.plugin, ref: $0.ref, requiresRestart: $0.requiresRestart, privileged: $0.privileged)
        }
        guard inputs.desiredState == "running", inputs.instanceState == "running", let instanceID = inputs.instanceID,
              let address = inputs.address else {
            let message = declared.isEmpty ? "no plugins are declared"
                : "\(declared.count) declared plugin(s) are delivered once an instance runs"
            try await report(request, .init(type: "PluginsInstalled", status: declared.isEmpty, reason: "NoRunningInstance",
                                            message: message), error: nil)
            return .done
        }
        let instance = InstanceRecord(id: instanceID, workspaceID: request.key, generation: inputs.instanceGeneration,
                                      idempotencyToken: "\(request.key)-g\(inputs.instanceGeneration)", state: .running,
                                      address: address)
        do {
            guard let installed = try await installed(in: instance, inputs, request) else {
                try await report(request, .init(type: "PluginsInstalled", status: declared.isEmpty, reason: "WaitingForRuntime",
                                                message: "the runtime of instance \(instanceID) has not reported its plugins yet"),
                                 error: nil)
                // A heartbeat's arrival wakes this controller; a probe has to be asked again.
                return probe == nil ? .done : .requeueAfter(.seconds(2))
            }
            let plan = PluginPlan.decide(kind: inputs.kind, declared: declared, installed: installed, managed: inputs.managed)
            let token = InstanceToken.derive(seed: inputs.tokenSeed, workspaceID: request.key, generation: inputs.instanceGeneration)
            let (failures, managed) = await carryOut(plan, into: instance, token: token, previouslyManaged: inputs.managed, request)
            try await plugins.recordManaged(managed, workspaceID: request.key, fence: request.fence)
            // With heartbeats, the runtime's next report wakes the instances controller itself.
            if probe != nil, failures.count < plan.install.count + plan.remove.count {
                try await plugins.wakeInstances(workspaceID: request.key)
            }
            return try await conclude(plan, failures: failures, invalid: invalid, instanceID: instanceID, request)
        } catch let error as ProviderError {
            let failure = error.failure
            try await report(request, .init(type: "PluginsInstalled", status: false, reason: failure.reason, message: failure.message),
                             error: failure.message)
            return .retry(failure)
        }
    }

    /// What the runtime reports installed; nil when it has not reported.
    private func installed(in instance: InstanceRecord, _ inputs: PluginStore.Inputs,
                           _ request: ReconcileRequest) async throws -> [String: String]? {
        guard let probe else { return inputs.heartbeatPlugins }
        request.actions.record("runtime.status", mutating: false)
        return try await probe.status(of: instance)?.plugins
    }

    /// Every install and removal of the plan, each independent of the others' failures;
    /// returns the failures and the managed set to record.
    private func carryOut(_ plan: PluginPlan, into instance: InstanceRecord, token: String, previouslyManaged: [String: String],
                          _ request: ReconcileRequest) async -> ([ProviderError], [String: String]) {
        var failures: [ProviderError] = []
        var managed = plan.managed
        for plugin in plan.install {
            request.actions.record("runtime.plugin_install", mutating: true)
            do {
                try await delivery.install(plugin: plugin.name, ref: plugin.ref, into: instance, token: token)
            } catch {
                failures.append(Self.providerError(error, operation: "install"))
            }
        }
        for name in plan.remove {
            request.actions.record("runtime.plugin_remove", mutating: true)
            do {
                try await delivery.remove(plugin: name, from: instance, token: token)
            } catch {
                // Still ours to remove next time.
                managed[name] = previouslyManaged[name] ?? ""
                failures.append(Self.providerError(error, operation: "remove"))
            }
        }
        return (failures, managed)
    }

    /// The condition, `last_error` and outcome of a pass: delivery failures are retried with
    /// backoff; a refused or invalid declaration waits for the rows to change.
    private func conclude(_ plan: PluginPlan, failures: [ProviderError], invalid: [String], instanceID: String,
                          _ request: ReconcileRequest) async throws -> ReconcileOutcome {
        if !failures.isEmpty {
            let message = failures.map(\.description).joined(separator: "; ")
            let throttled = failures.compactMap { failure -> Duration? in
                if case .throttled(let after) = failure.kind { return after ?? .seconds(1) }
                return nil
            }.max()
            try await report(request, .init(type: "PluginsInstalled", status: false, reason: "DeliveryFailed", message: message),
                             error: message)
            let failure = ReconcileFailure(reason: "DeliveryFailed", message: message, retryAfter: throttled)
            return failures.allSatisfy(\.isTerminal) ? .terminal(failure) : .retry(failure)
        }
        var refusals = plan.refused.map {
            "plugin '\($0)' is privileged and may only be declared for kind = 'platform' workspaces; not delivered"
        }
        refusals += invalid.map { "workspace_declared_plugins.plugin: '\($0)' is not a valid plugin name ([a-z0-9._-]); not delivered" }
        if !refusals.isEmpty {
            let message = refusals.joined(separator: "; ")
            try await report(request, .init(type: "PluginsInstalled", status: false, reason: "PluginRefused", message: message),
                             error: message)
            return .terminal(ReconcileFailure(reason: "PluginRefused", message: message))
        }
        if !plan.awaitingRestart.isEmpty {
            try await report(request, .init(type: "PluginsInstalled", status: false, reason: "WaitingForRestart",
                                            message: "\(plan.awaitingRestart.joined(separator: ", ")) load(s) at boot: staged in the bundle, installed when the instance restarts under its restart policy"),
                             error: nil)
            return .done
        }
        let message = plan.managed.isEmpty ? "no plugins are declared"
            : "\(plan.managed.count) declared plugin(s) installed in instance \(instanceID)"
        try await report(request, .init(type: "PluginsInstalled", status: true, reason: plan.managed.isEmpty ? "NoPluginsDeclared" : "Installed",
                                        message: message), error: nil)
        return .done
    }

    private static func providerError(_ error: any Error, operation: String) -> ProviderError {
        error as? ProviderError ?? ProviderError(.transient, provider: "runtime", operation: operation, message: "\(error)")
    }

    static func isValidName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, name.count <= 128 else { return false }
        let allowed = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyz0123456789._-")
        return CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyz0123456789").contains(first)
            && name.unicodeScalars.allSatisfy(allowed.contains)
    }

    private func report(_ request: ReconcileRequest, _ condition: WorkspaceStatusStore.Condition, error: String?) async throws {
        try await status.set(condition, error: error, workspaceID: request.key, controller: name,
                             fence: request.fence, now: request.now)
    }
}
