import Foundation
import Postgres
import Providers
import ReconcileRuntime
import ReconcileStore
import WorkspaceModel
import WorkspaceStore

/// Makes exactly the instance a workspace asks for run (seed 002's single flight): lists what
/// the provider has, lets `InstancePlan` decide, and carries the steps out in order — old and
/// extra instances terminated first, a new one created only once its generation's bundle is
/// staged, with the idempotency token `<workspace>-g<generation>` so that a retry after a lost
/// response adopts the instance instead of launching a second.
public struct InstancesReconciler: Reconciler {
    public let name = "instances"
    private let instances: InstanceStore
    private let status: WorkspaceStatusStore
    private let provider: any InstanceProvider
    private let events: EventStore

    public init(pool: PostgresPool, provider: any InstanceProvider) {
        self.instances = InstanceStore(pool: pool)
        self.status = WorkspaceStatusStore(pool: pool)
        self.provider = provider
        self.events = EventStore(pool: pool)
    }

    public func reconcile(_ request: ReconcileRequest) async throws -> ReconcileOutcome {
        guard let inputs = try await instances.selectInputs(workspaceID: request.key) else { return .done }
        do {
            request.actions.record("instances.list", mutating: false)
            let listed = try await provider.list(workspaceID: request.key).filter(\.state.isLive)
            let plan = InstancePlan.decide(desiredState: inputs.desiredState, targetGeneration: inputs.targetGeneration,
                                           stagedGeneration: inputs.stagedGeneration,
                                           live: listed.map { .init(id: $0.id, generation: $0.generation, running: $0.state == .running) })
            var kept = plan.keep.flatMap { keep in listed.first { $0.id == keep.id } }
            var created = false
            for step in plan.steps {
                switch step {
                case .terminateStale(let id):
                    request.actions.record("instances.terminate", mutating: true)
                    try await provider.terminate(instanceID: id)
                case .terminateExtra(let id):
                    request.actions.record("instances.terminate", mutating: true)
                    try await provider.terminate(instanceID: id)
                    try await events.record(controller: name, key: request.key, fence: request.fence, type: .warning,
                                            reason: "DuplicateInstance",
                                            message: "terminated extra instance \(id) of generation \(inputs.targetGeneration)",
                                            now: request.now)
                case .create(let generation):
                    request.actions.record("instances.create", mutating: true)
                    kept = try await provider.create(InstanceSpec(
                        workspaceID: request.key, generation: generation, image: inputs.image,
                        bundleName: SecretsBundleReconciler.secretName(workspaceID: request.key)))
                    created = true
                case .waitForBundle:
                    break
                }
            }
            // An instance we launch or adopt now boots with the bundle staged for its generation.
            let booted = kept.map { created || inputs.instanceID != $0.id ? inputs.stagedRuntimeHash : inputs.bootedRuntimeHash } ?? nil
            let decision = created ? .none : restartDecision(inputs, kept: kept, booted: booted, now: request.now ?? Date())
            let observed = InstanceStore.Observed(instanceID: kept?.id, generation: kept?.generation ?? 0,
                                                  state: kept?.state.rawValue, address: kept?.address, bootedRuntimeHash: booted)
            let pending: Bool
            switch decision {
            case .waitForTurnEnd, .pending: pending = true
            default: pending = false
            }
            try await instances.record(observed, phase: plan.phase, restartPending: pending, workspaceID: request.key,
                                       fence: request.fence, now: request.now)
            try await status.set(condition(for: plan, kept: kept, target: inputs.targetGeneration), error: nil,
                                 workspaceID: request.key, controller: name, fence: request.fence, now: request.now)
            switch decision {
            case .restartNow:
                try await instances.requestRestart(workspaceID: request.key, expected: inputs.targetGeneration, fence: request.fence)
                try await events.record(controller: name, key: request.key, fence: request.fence, type: .normal,
                                        reason: "RestartingForConfig",
                                        message: "a secret or template change the runtime consumes needs a new instance",
                                        now: request.now)
            case .debounce(let until):
                return .requeueAfter(.seconds(max(1, until.timeIntervalSince(request.now ?? Date()))))
            default:
                break
            }
            return .done
        } catch let error as ProviderError {
            let failure = error.failure
            try await status.set(.init(type: "InstanceReady", status: false, reason: failure.reason, message: failure.message),
                                 error: failure.message, workspaceID: request.key, controller: name,
                                 fence: request.fence, now: request.now)
            return error.isTerminal ? .terminal(failure) : .retry(failure)
        }
    }

    /// Seed 000's rules, for a running instance of the current generation whose staged bundle
    /// differs from the one it booted with.
    private func restartDecision(_ inputs: InstanceStore.Inputs, kept: InstanceRecord?, booted: String?, now: Date) -> RestartDecision {
        guard let kept, inputs.desiredState == "running", kept.generation == inputs.targetGeneration,
              inputs.stagedGeneration == inputs.targetGeneration, let booted, let staged = inputs.stagedRuntimeHash else {
            return .none
        }
        return RestartDecision.decide(.init(
            kind: inputs.kind, restartPolicy: inputs.restartPolicy, runtimeHashChanged: staged != booted,
            authoredByWorkspace: inputs.lastSecretWriter == "workspace:\(inputs.workspaceID)",
            busySince: inputs.busySince, lastChangeAt: inputs.lastSecretWriteAt ?? .distantPast, now: now))
    }

    private func condition(for plan: InstancePlan, kept: InstanceRecord?, target: Int64) -> WorkspaceStatusStore.Condition {
        if let kept {
            return .init(type: "InstanceReady", status: kept.state == .running, reason: kept.state == .running ? "Running" : "Launching",
                         message: "instance \(kept.id) of generation \(kept.generation) is \(kept.state.rawValue)")
        }
        if plan.steps.contains(.waitForBundle(generation: target)) {
            return .init(type: "InstanceReady", status: false, reason: "WaitingForBundle",
                         message: "instance generation \(target) starts once its bundle is staged")
        }
        return .init(type: "InstanceReady", status: false, reason: "NoInstance", message: "the workspace is \(plan.phase)")
    }
}
