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
    private let probe: (any RuntimeStatusSource)?
    private let owner: String

    /// - Parameters:
    ///   - probe: asks runtimes for their status directly; without it the controller reads the
    ///     heartbeats the platform writes into `workspace_runtime_status`.
    ///   - owner: the tag every launched instance carries (see `DatabaseIdentity`); the orphan
    ///     sweeper collects only instances of this owner.
    public init(pool: PostgresPool, provider: any InstanceProvider, pacer: RestartPacer = RestartPacer(),
                probe: (any RuntimeStatusSource)? = nil, owner: String = "") {
        self.pacer = pacer
        self.owner = owner
        self.probe = probe
        self.instances = InstanceStore(pool: pool)
        self.status = WorkspaceStatusStore(pool: pool)
        self.provider = provider
        self.events = EventStore(pool: pool)
    }

    public func reconcile(_ request: ReconcileRequest) async throws -> ReconcileOutcome {
        guard var inputs = try await instances.selectInputs(workspaceID: request.key) else { return .done }
        do {
            let (plan, listed) = try await plan(inputs, request)
            let (kept, created) = try await carryOut(plan, listed: listed, inputs, request)
            let now = request.now ?? Date()
            if let probe, let kept, !created {
                request.actions.record("runtime.status", mutating: false)
                let reported = try await probe.status(of: kept)
                inputs.heartbeatReady = reported?.ready
                inputs.heartbeatAt = reported.map { _ in now }
                inputs.heartbeatMCPPresent = reported?.managementMCPPresent
                inputs.busySince = reported?.busySince
            }
            // An instance we launch or adopt now boots with the bundle staged for its generation.
            let adopted = kept.map { created || inputs.instanceID != $0.id } ?? false
            let booted = kept == nil ? nil : (adopted ? inputs.stagedRuntimeHash : inputs.bootedRuntimeHash)
            let verdict = health(inputs, kept: kept, adopted: adopted, now: now) ?? .init(phase: plan.phase, problem: nil)
            // A kept instance is watched: closely while it starts or wavers, calmly once running.
            let watching: ReconcileOutcome = kept == nil || inputs.desiredState != "running" ? .done
                : .requeueAfter(verdict.phase == "running" ? .seconds(30) : .seconds(2))
            let (outcome, problem) = try await remediateIfFailed(verdict, inputs, request, now: now, otherwise: watching)
            let decision = created ? .none : pacedRestartDecision(inputs, kept: kept, booted: booted, now: now)
            try await record(plan, verdict: verdict, problem: problem, kept: kept, booted: booted, decision: decision,
                             inputs, request)
            return try await applyRestart(decision, inputs, request, now: now) ?? outcome
        } catch let error as ProviderError {
            let failure = error.failure
            try await status.set(.init(type: "InstanceReady", status: false, reason: failure.reason, message: failure.message),
                                 error: failure.message, workspaceID: request.key, controller: name,
                                 fence: request.fence, now: request.now)
            return error.isTerminal ? .terminal(failure) : .retry(failure)
        }
    }

    /// What the provider has, and what to do about it.
    private func plan(_ inputs: InstanceStore.Inputs, _ request: ReconcileRequest) async throws -> (InstancePlan, [InstanceRecord]) {
        request.actions.record("instances.list", mutating: false)
        let listed = try await provider.list(workspaceID: request.key).filter(\.state.isLive)
        let plan = InstancePlan.decide(desiredState: inputs.desiredState, targetGeneration: inputs.targetGeneration,
                                       stagedGeneration: inputs.stagedGeneration,
                                       live: listed.map { .init(id: $0.id, generation: $0.generation, running: $0.state == .running) })
        return (plan, listed)
    }

    /// The plan's steps, in order; returns the instance that serves the workspace, and whether
    /// it was created now.
    private func carryOut(_ plan: InstancePlan, listed: [InstanceRecord], _ inputs: InstanceStore.Inputs,
                          _ request: ReconcileRequest) async throws -> (InstanceRecord?, Bool) {
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
                try await warn(request, "DuplicateInstance", "terminated extra instance \(id) of generation \(inputs.targetGeneration)")
            case .create(let generation):
                request.actions.record("instances.create", mutating: true)
                let launched = try await provider.create(InstanceSpec(
                    workspaceID: request.key, generation: generation, image: inputs.image,
                    bundleName: SecretsBundleReconciler.secretName(workspaceID: request.key), owner: owner))
                if launched.state.isLive {
                    kept = launched
                    created = true
                } else {
                    // This generation's token is spent on an instance that died (a crash, a
                    // person): replace it with the next generation, as after a restart.
                    try await instances.requestRestart(workspaceID: request.key, expected: generation, fence: request.fence)
                    try await warn(request, "InstanceLost",
                                   "instance \(launched.id) of generation \(generation) is \(launched.state.rawValue); starting generation \(generation + 1)")
                }
            case .waitForBundle:
                break
            }
        }
        return (kept, created)
    }

    /// A failed workspace is a failed reconcile (retried with backoff); a failed platform
    /// workspace is recreated once its failure was recorded in an earlier pass — so the fleet
    /// count the circuit breaker reads includes every workspace failing at once, however many
    /// are reconciled concurrently. Returns the outcome and the problem to surface.
    private func remediateIfFailed(_ verdict: InstanceHealth.Verdict, _ inputs: InstanceStore.Inputs, _ request: ReconcileRequest,
                                   now: Date, otherwise: ReconcileOutcome) async throws -> (ReconcileOutcome, String?) {
        guard verdict.phase == "failed" else {
            if verdict.phase == "running", inputs.remediations > 0 {
                try await instances.recordRemediations(0, at: request.now, workspaceID: request.key, fence: request.fence)
            }
            return (otherwise, verdict.problem)
        }
        let problem = verdict.problem ?? "the runtime is unhealthy"
        let failed = ReconcileOutcome.retry(ReconcileFailure(reason: "RuntimeUnhealthy", message: problem))
        guard inputs.phase == "failed", verdict.remediable else { return (failed, problem) }
        let (failing, total) = try await instances.selectFleetHealth()
        let decision = Remediation.decide(kind: inputs.kind, phase: verdict.phase, attempts: inputs.remediations,
                                          lastAttemptAt: inputs.lastRemediationAt, now: now, failing: failing, total: total)
        switch decision {
        case .remediate:
            try await instances.requestRestart(workspaceID: request.key, expected: inputs.targetGeneration, fence: request.fence)
            try await instances.recordRemediations(inputs.remediations + 1, at: request.now, workspaceID: request.key,
                                                   fence: request.fence)
            try await warn(request, "Remediating",
                           "recreating the failed platform workspace (remediation \(inputs.remediations + 1)): \(problem)")
            return (.done, problem)
        case .waitUntil(let due):
            return (.requeueAfter(.seconds(max(1, due.timeIntervalSince(now)))), problem)
        case .budgetSpent(let message):
            try await warn(request, "RemediationBudgetSpent", message)
            return (failed, "\(problem); \(message)")
        case .circuitOpen(let message):
            try await warn(request, "RemediationPaused", message)
            return (failed, "\(problem); \(message)")
        case .none:
            return (failed, problem)
        }
    }

    /// The seed-000 restart decision, with restarts paced across the fleet.
    private func pacedRestartDecision(_ inputs: InstanceStore.Inputs, kept: InstanceRecord?, booted: String?,
                                      now: Date) -> RestartDecision {
        let decision = restartDecision(inputs, kept: kept, booted: booted, now: now)
        guard decision == .restartNow else { return decision }
        let wait = pacer.reserve(at: now)
        return wait > .zero ? .debounce(until: now.addingTimeInterval(wait.seconds)) : decision
    }

    /// The observed instance, phase, restart_pending and the InstanceReady condition.
    private func record(_ plan: InstancePlan, verdict: InstanceHealth.Verdict, problem: String?, kept: InstanceRecord?,
                        booted: String?, decision: RestartDecision, _ inputs: InstanceStore.Inputs,
                        _ request: ReconcileRequest) async throws {
        let observed = InstanceStore.Observed(instanceID: kept?.id, generation: kept?.generation ?? 0,
                                              state: kept?.state.rawValue, address: kept?.address, bootedRuntimeHash: booted)
        try await instances.record(observed, phase: verdict.phase, restartPending: decision.marksRestartPending, workspaceID: request.key,
                                   fence: request.fence, now: request.now)
        let condition = problem.map {
            WorkspaceStatusStore.Condition(type: "InstanceReady", status: false, reason: "RuntimeUnhealthy", message: $0)
        } ?? self.condition(for: plan, kept: kept, target: inputs.targetGeneration)
        try await status.set(condition, error: problem, workspaceID: request.key, controller: name,
                             fence: request.fence, now: request.now)
    }

    /// Carries out a restart decision; returns an outcome that replaces the default, if any.
    private func applyRestart(_ decision: RestartDecision, _ inputs: InstanceStore.Inputs, _ request: ReconcileRequest,
                              now: Date) async throws -> ReconcileOutcome? {
        switch decision {
        case .restartNow:
            try await instances.requestRestart(workspaceID: request.key, expected: inputs.targetGeneration, fence: request.fence)
            try await events.record(controller: name, key: request.key, fence: request.fence, type: .normal,
                                    reason: "RestartingForConfig",
                                    message: "a secret or template change the runtime consumes needs a new instance",
                                    now: request.now)
            return nil
        case .debounce(let until):
            return .requeueAfter(.seconds(max(1, until.timeIntervalSince(now))))
        default:
            return nil
        }
    }

    /// The health of the instance we keep, from its heartbeat; nil when there is none to judge.
    private func health(_ inputs: InstanceStore.Inputs, kept: InstanceRecord?, adopted: Bool, now: Date) -> InstanceHealth.Verdict? {
        guard let kept, inputs.desiredState == "running" else { return nil }
        var heartbeat: InstanceHealth.Heartbeat?
        if !adopted, let ready = inputs.heartbeatReady, let at = inputs.heartbeatAt {
            heartbeat = .init(ready: ready, reportedAt: at, managementMCPPresent: inputs.heartbeatMCPPresent ?? false)
        }
        return InstanceHealth.evaluate(instanceID: kept.id, launchedAt: adopted ? now : inputs.launchedAt,
                                       heartbeat: heartbeat, now: now, requiresManagementMCP: inputs.requiresManagementMCP)
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
