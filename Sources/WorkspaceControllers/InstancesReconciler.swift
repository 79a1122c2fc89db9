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
    private let pacer: RestartPacer

    public init(pool: PostgresPool, provider: any InstanceProvider, pacer: RestartPacer = RestartPacer()) {
        self.pacer = pacer
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
            let now = request.now ?? Date()
            // An instance we launch or adopt now boots with the bundle staged for its generation.
            let adopted = kept.map { created || inputs.instanceID != $0.id } ?? false
            let booted = kept == nil ? nil : (adopted ? inputs.stagedRuntimeHash : inputs.bootedRuntimeHash)
            let verdict = health(inputs, kept: kept, adopted: adopted, now: now) ?? .init(phase: plan.phase, problem: nil)
            var problem = verdict.problem
            // A kept instance is watched: its heartbeat may stop at any time.
            var outcome: ReconcileOutcome = kept == nil || inputs.desiredState != "running" ? .done : .requeueAfter(.seconds(60))
            if verdict.phase == "failed" {
                // A failure is acted on once it has been recorded in an earlier pass: the fleet
                // count the circuit breaker reads then includes every workspace failing at once,
                // however many are reconciled concurrently.
                outcome = .retry(ReconcileFailure(reason: "RuntimeUnhealthy", message: problem ?? "the runtime is unhealthy"))
                if inputs.phase == "failed" {
                    let (failing, total) = try await instances.selectFleetHealth()
                    let decision = Remediation.decide(kind: inputs.kind, phase: verdict.phase, attempts: inputs.remediations,
                                                      lastAttemptAt: inputs.lastRemediationAt, now: now,
                                                      failing: failing, total: total)
                    switch decision {
                    case .remediate:
                        try await instances.requestRestart(workspaceID: request.key, expected: inputs.targetGeneration,
                                                           fence: request.fence)
                        try await instances.recordRemediations(inputs.remediations + 1, at: request.now,
                                                               workspaceID: request.key, fence: request.fence)
                        try await warn(request, "Remediating",
                                       "recreating the failed platform workspace (remediation \(inputs.remediations + 1)): \(problem ?? "")")
                        outcome = .done
                    case .waitUntil(let due):
                        outcome = .requeueAfter(.seconds(max(1, due.timeIntervalSince(now))))
                    case .budgetSpent(let message), .circuitOpen(let message):
                        problem = [problem, message].compactMap { $0 }.joined(separator: "; ")
                        try await warn(request, decision == .budgetSpent(message) ? "RemediationBudgetSpent" : "RemediationPaused",
                                       message)
                    case .none:
                        break
                    }
                }
            } else if verdict.phase == "running", inputs.remediations > 0 {
                try await instances.recordRemediations(0, at: request.now, workspaceID: request.key, fence: request.fence)
            }
            var decision = created ? .none : restartDecision(inputs, kept: kept, booted: booted, now: now)
            if decision == .restartNow {
                let wait = pacer.reserve(at: now)
                if wait > .zero { decision = .debounce(until: now.addingTimeInterval(wait.seconds)) }
            }
            let observed = InstanceStore.Observed(instanceID: kept?.id, generation: kept?.generation ?? 0,
                                                  state: kept?.state.rawValue, address: kept?.address, bootedRuntimeHash: booted)
            let pending: Bool
            switch decision {
            case .waitForTurnEnd, .pending: pending = true
            default: pending = false
            }
            try await instances.record(observed, phase: verdict.phase, restartPending: pending, workspaceID: request.key,
                                       fence: request.fence, now: request.now)
            let condition = problem.map {
                WorkspaceStatusStore.Condition(type: "InstanceReady", status: false, reason: "RuntimeUnhealthy", message: $0)
            } ?? self.condition(for: plan, kept: kept, target: inputs.targetGeneration)
            try await status.set(condition, error: problem, workspaceID: request.key, controller: name,
                                 fence: request.fence, now: request.now)
            switch decision {
            case .restartNow:
                try await instances.requestRestart(workspaceID: request.key, expected: inputs.targetGeneration, fence: request.fence)
                try await events.record(controller: name, key: request.key, fence: request.fence, type: .normal,
                                        reason: "RestartingForConfig",
                                        message: "a secret or template change the runtime consumes needs a new instance",
                                        now: request.now)
            case .debounce(let until):
                return .requeueAfter(.seconds(max(1, until.timeIntervalSince(now))))
            default:
                break
            }
            return outcome
        } catch let error as ProviderError {
            let failure = error.failure
            try await status.set(.init(type: "InstanceReady", status: false, reason: failure.reason, message: failure.message),
                                 error: failure.message, workspaceID: request.key, controller: name,
                                 fence: request.fence, now: request.now)
            return error.isTerminal ? .terminal(failure) : .retry(failure)
        }
    }

    /// The health of the instance we keep, from its heartbeat; nil when there is none to judge.
    private func health(_ inputs: InstanceStore.Inputs, kept: InstanceRecord?, adopted: Bool, now: Date) -> InstanceHealth.Verdict? {
        guard let kept, inputs.desiredState == "running" else { return nil }
        var heartbeat: InstanceHealth.Heartbeat?
        if !adopted, let ready = inputs.heartbeatReady, let at = inputs.heartbeatAt {
            heartbeat = .init(ready: ready, reportedAt: at)
        }
        return InstanceHealth.evaluate(instanceID: kept.id, launchedAt: adopted ? now : inputs.launchedAt,
                                       heartbeat: heartbeat, now: now)
    }

    private func warn(_ request: ReconcileRequest, _ reason: String, _ message: String) async throws {
        try await events.record(controller: name, key: request.key, fence: request.fence, type: .warning,
                                reason: reason, message: message, now: request.now)
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
