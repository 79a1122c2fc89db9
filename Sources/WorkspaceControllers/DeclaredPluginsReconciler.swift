import Foundation
import Providers
import ReconcileRuntime
import ReconcileStore
import WorkspaceModel
import WorkspaceStore

/// Delivers each workspace's declared plugins into its running instance and removes the ones
/// no longer declared (seed 001). It never looks at the workspace's phase: a `failed`
/// workspace whose runtime lacks the management MCP gets it delivered here, which is what lets
/// it climb back online. Privileged plugins reach only `platform` workspaces, whatever row got
/// in (fail closed). Plugins that load only at boot travel in the bundle instead, and the
/// instances controller restarts under its restart policy. The per-workspace backoff is the
/// machinery's persisted `attempts`/`next_attempt_at`, so a restarted reconciler keeps it.
public struct DeclaredPluginsReconciler: Reconciler, StatusWriter {
    public let name = ControllerName.pluginInstalls.rawValue
    private let plugins: PluginStore
    private let delivery: any PluginDelivery
    private let probe: (any RuntimeStatusSource)?

    /// - Parameter probe: asks runtimes what they have installed; without it the controller
    ///   reads the `plugins` the platform's heartbeat writes into `workspace_runtime_status`.
    public init(store: PluginStore, delivery: any PluginDelivery, probe: (any RuntimeStatusSource)? = nil) {
        self.plugins = store
        self.delivery = delivery
        self.probe = probe
    }

    public var statusColumns: StatusColumns { plugins.statusColumns }

    public func reconcile(_ request: ReconcileRequest) async throws -> ReconcileResult {
        guard let inputs = try await plugins.selectInputs(workspaceID: request.key) else { return ReconcileResult(.done) }
        let invalid = inputs.declared.filter { !Self.isValidName($0.plugin) }.map(\.plugin)
        let declared = inputs.declared.filter { Self.isValidName($0.plugin) }.map {
            PluginPlan.Declared(name: $0.plugin, ref: $0.ref, requiresRestart: $0.requiresRestart, privileged: $0.privileged)
        }
        guard inputs.desiredState == .running, inputs.instanceState == InstanceState.running.rawValue,
            let instanceID = inputs.instanceID, let address = inputs.address
        else {
            let message =
                declared.isEmpty
                ? "no plugins are declared"
                : "\(declared.count) declared plugin(s) are delivered once an instance runs"
            return ReconcileResult(
                .done,
                status: PluginStatus(
                    condition: .init(
                        .pluginsInstalled, declared.isEmpty,
                        reason: "NoRunningInstance", message: message)))
        }
        let instance = InstanceRecord(
            id: instanceID, workspaceID: request.key, generation: inputs.instanceGeneration,
            idempotencyToken: InstanceSpec.idempotencyToken(
                workspaceID: request.key,
                generation: inputs.instanceGeneration),
            state: .running, address: address)
        let installed: [String: String]?
        do {
            installed = try await self.installed(in: instance, inputs, request)
        } catch let error as ProviderError {
            return ReconcileResult(
                .failed(error),
                status: PluginStatus(
                    condition: .init(.pluginsInstalled, false, reason: error.failure.reason, message: error.failure.message),
                    error: error.failure.message))
        }
        guard let installed else {
            // A heartbeat's arrival wakes this controller; a probe has to be asked again.
            return ReconcileResult(
                probe == nil ? .done : .requeueAfter(.seconds(2)),
                status: PluginStatus(
                    condition: .init(
                        .pluginsInstalled, declared.isEmpty, reason: "WaitingForRuntime",
                        message: "the runtime of instance \(instanceID) has not reported its plugins yet")))
        }
        let plan = PluginPlan.decide(kind: inputs.kind, declared: declared, installed: installed, managed: inputs.managed)
        let token = InstanceToken.derive(seed: inputs.tokenSeed, workspaceID: request.key, generation: inputs.instanceGeneration)
        let delivered = await carryOut(plan, into: instance, token: token, previouslyManaged: inputs.managed, request)
        var result = conclude(plan, delivered, invalid: invalid, instanceID: instanceID)
        // With heartbeats, the runtime's next report wakes the instances controller itself.
        if probe != nil, delivered.changedSomething {
            result.wakes = [Wake(controller: ControllerName.instances.rawValue, key: request.key)]
        }
        return result
    }

    /// What the runtime reports installed; nil when it has not reported.
    private func installed(
        in instance: InstanceRecord, _ inputs: PluginStore.Inputs,
        _ request: ReconcileRequest
    ) async throws -> [String: String]? {
        guard let probe else { return inputs.heartbeatPlugins }
        request.actions.record("runtime.status", mutating: false)
        return try await probe.status(of: instance)?.plugins
    }

    /// What a plan's deliveries did.
    struct Delivered {
        var failures: [ProviderError] = []
        /// The managed set to record.
        var managed: [String: String]
        var installed: [String] = []
        var removed: [String] = []
        var changedSomething: Bool { !installed.isEmpty || !removed.isEmpty }
    }

    /// Every install and removal of the plan, each independent of the others' failures.
    private func carryOut(
        _ plan: PluginPlan, into instance: InstanceRecord, token: String, previouslyManaged: [String: String],
        _ request: ReconcileRequest
    ) async -> Delivered {
        var delivered = Delivered(managed: plan.managed)
        for plugin in plan.install {
            request.actions.record("runtime.plugin_install", mutating: true)
            do {
                try await delivery.install(plugin: plugin.name, ref: plugin.ref, into: instance, token: token)
                delivered.installed.append("\(plugin.name)@\(plugin.ref)")
            } catch {
                delivered.failures.append(Self.providerError(error, operation: "install"))
            }
        }
        for name in plan.remove {
            request.actions.record("runtime.plugin_remove", mutating: true)
            do {
                try await delivery.remove(plugin: name, from: instance, token: token)
                delivered.removed.append(name)
            } catch {
                // Still ours to remove next time.
                delivered.managed[name] = previouslyManaged[name] ?? ""
                delivered.failures.append(Self.providerError(error, operation: "remove"))
            }
        }
        return delivered
    }

    /// The condition, `last_error`, events and outcome of a pass: delivery failures are retried
    /// with backoff (terminally only when every one is terminal); a refused or invalid
    /// declaration waits for the rows to change.
    private func conclude(_ plan: PluginPlan, _ delivered: Delivered, invalid: [String], instanceID: String) -> ReconcileResult {
        var events: [ReconcileEvent] = []
        if !delivered.installed.isEmpty {
            events.append(
                .normal("PluginsInstalled", "installed \(delivered.installed.joined(separator: ", ")) in instance \(instanceID)"))
        }
        if !delivered.removed.isEmpty {
            events.append(
                .normal("PluginsRemoved", "removed \(delivered.removed.joined(separator: ", ")) from instance \(instanceID)"))
        }
        func result(_ outcome: ReconcileOutcome, _ status: Bool, _ reason: String, _ message: String, error: String? = nil)
            -> ReconcileResult
        {
            ReconcileResult(
                outcome,
                status: PluginStatus(
                    managed: delivered.managed,
                    condition: .init(.pluginsInstalled, status, reason: reason, message: message),
                    error: error),
                events: events)
        }
        if !delivered.failures.isEmpty {
            let message = delivered.failures.map(\.description).joined(separator: "; ")
            let throttled = delivered.failures.compactMap { failure -> Duration? in
                if case .throttled(let after) = failure.kind { return after ?? .seconds(1) }
                return nil
            }.max()
            let failure = ReconcileFailure(reason: "DeliveryFailed", message: message, retryAfter: throttled)
            let outcome: ReconcileOutcome = delivered.failures.allSatisfy(\.isTerminal) ? .terminal(failure) : .retry(failure)
            return result(outcome, false, "DeliveryFailed", message, error: message)
        }
        var refusals = plan.refused.map {
            "plugin '\($0)' is privileged and may only be declared for kind = 'platform' workspaces; not delivered"
        }
        refusals += invalid.map {
            "workspace_declared_plugins.plugin: '\($0)' is not a valid plugin name ([a-z0-9._-]); not delivered"
        }
        if !refusals.isEmpty {
            let message = refusals.joined(separator: "; ")
            return result(
                .terminal(ReconcileFailure(reason: "PluginRefused", message: message)), false, "PluginRefused", message,
                error: message)
        }
        if !plan.awaitingRestart.isEmpty {
            return result(
                .done, false, "WaitingForRestart",
                "\(plan.awaitingRestart.joined(separator: ", ")) load(s) at boot: staged in the bundle, installed when the instance restarts under its restart policy"
            )
        }
        let message =
            plan.managed.isEmpty
            ? "no plugins are declared"
            : "\(plan.managed.count) declared plugin(s) installed in instance \(instanceID)"
        return result(.done, true, plan.managed.isEmpty ? "NoPluginsDeclared" : "Installed", message)
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
}
