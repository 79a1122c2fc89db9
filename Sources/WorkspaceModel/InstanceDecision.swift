import Foundation
import ReconcileRuntime

/// The instances controller's whole decision after it carried out its plan, as a pure function
/// of (facts, what the provider and the runtime showed, now): the status to record, the
/// outcome, the events. Health, remediation, the seed-000 restart rules and the next look are
/// all decided here; the controller's shell only performs I/O.
public struct InstanceDecision: Sendable, Equatable {
    public var status: InstanceStatus
    public var outcome: ReconcileOutcome
    public var events: [ReconcileEvent]

    /// How often a kept instance is looked at again.
    public struct Watch: Sendable, Equatable {
        /// While it runs well.
        public var running: Duration
        /// While it starts, wavers or waits (nil: `running`).
        public var converging: Duration

        public init(running: Duration, converging: Duration) {
            self.running = running
            self.converging = converging
        }
    }

    public struct Context: Sendable {
        public var now: Date
        public var watch: Watch
        public var thresholds = InstanceHealth.Thresholds()
        public var remediation = Remediation.Policy()
        /// Needed only when `needsFleetHealth`: the circuit breaker's input.
        public var fleet: Remediation.FleetHealth?
        /// Needed only when `wantsPacedRestart`: how long the fleet's restart pacer asks to wait
        /// (zero: restart now).
        public var restartWait: TimeInterval?

        public init(now: Date, watch: Watch, fleet: Remediation.FleetHealth? = nil, restartWait: TimeInterval? = nil) {
            self.now = now
            self.watch = watch
            self.fleet = fleet
            self.restartWait = restartWait
        }
    }

    public static func decide(
        _ facts: InstanceFacts, plan: InstancePlan, observed: InstanceObservation,
        context: Context
    ) -> InstanceDecision {
        var judged = Judged(facts, plan: plan, observed: observed, context: context)
        judged.remediateIfFailed()
        judged.applyRestartRules()
        judged.recordStop()
        judged.failIfBundleCannotBeStaged()
        judged.lookByTheNextThreshold()
        return judged.decision
    }

    /// Whether `decide` will need the fleet's health (a failed workspace that may be remediated).
    public static func needsFleetHealth(
        _ facts: InstanceFacts, plan: InstancePlan, observed: InstanceObservation,
        context: Context
    ) -> Bool {
        let judged = Judged(facts, plan: plan, observed: observed, context: context)
        return judged.verdict?.phase == .failed && judged.verdict?.remediable == true && facts.phase == .failed
            && Remediation.applies(kind: facts.kind, restartPolicy: facts.restartPolicy)
    }

    /// Whether `decide` would restart now for a configuration change (then the shell asks the
    /// fleet's pacer, and passes its answer as `restartWait`).
    public static func wantsPacedRestart(
        _ facts: InstanceFacts, plan: InstancePlan, observed: InstanceObservation,
        context: Context
    ) -> Bool {
        restartDecision(facts, plan: plan, observed: observed, context: context) == .restartNow
    }

    /// Seed 000's restart rule as `decide` applies it (before the pacer): why a restart is
    /// pending, deferred or due (`explain` and `describe` say it).
    public static func restartDecision(
        _ facts: InstanceFacts, plan: InstancePlan, observed: InstanceObservation,
        context: Context
    ) -> RestartDecision {
        Judged(facts, plan: plan, observed: observed, context: context).restartDecision
    }
}

/// The working state of one decision.
private struct Judged {
    let facts: InstanceFacts
    let plan: InstancePlan
    let observed: InstanceObservation
    let context: Context
    /// The kept instance was created or adopted now: it boots with the bundle staged for it.
    let adopted: Bool
    let verdict: InstanceHealth.Verdict?
    var status: InstanceStatus
    var outcome: ReconcileOutcome
    var events: [ReconcileEvent] = []
    var problem: String?

    typealias Context = InstanceDecision.Context

    init(_ facts: InstanceFacts, plan: InstancePlan, observed: InstanceObservation, context: Context) {
        self.facts = facts
        self.plan = plan
        self.observed = observed
        self.context = context
        let kept = observed.kept
        adopted = kept.map { observed.created || facts.instanceID != $0.id } ?? false
        if let kept, facts.desiredState == .running, observed.failed == nil {
            verdict = InstanceHealth.evaluate(
                instanceID: kept.id, launchedAt: adopted ? context.now : facts.launchedAt,
                report: observed.report,
                answeredBefore: !adopted && [.running, .degraded, .failed].contains(facts.phase),
                now: context.now, requiresManagementMCP: facts.requiresManagementMCP, thresholds: context.thresholds)
        } else {
            verdict = nil
        }
        problem = verdict?.problem
        var phase = verdict?.phase ?? plan.phase
        if let failed = observed.failed {
            // What the failed call left is not known well: never claim more than was seen.
            problem = failed.failure?.message
            if facts.desiredState == .running { phase = kept == nil ? .provisioning : facts.phase }
        }
        var unresponsiveSince: Date?
        if case .unresponsive(let since, _) = observed.report, kept != nil { unresponsiveSince = since }
        status = InstanceStatus(
            instanceID: kept?.id, instanceGeneration: kept?.generation ?? 0, instanceState: kept?.state, address: kept?.address,
            bootedRuntimeHash: kept == nil ? nil : (adopted ? facts.stagedRuntimeHash : facts.bootedRuntimeHash),
            unresponsiveSince: unresponsiveSince, remediations: phase == .running ? 0 : max(0, facts.remediations),
            restartFrom: nil, phase: phase, restartPending: false,
            condition: WorkspaceCondition(.instanceReady, false, reason: "NoInstance", message: ""), error: nil)
        if let failed = observed.failed {
            outcome = failed
        } else if kept == nil, facts.desiredState == .running,
            plan.steps.contains(.waitForBundle(generation: facts.targetGeneration))
        {
            // Not converged: the staging wakes this key, and the look notices a staging that failed.
            outcome = .requeueAfter(context.watch.converging)
        } else if kept == nil || facts.desiredState != .running {
            outcome = .done
        } else {
            outcome = phase == .running ? .watch(context.watch.running) : .requeueAfter(context.watch.converging)
        }
        if let lost = observed.lost {
            status.restartFrom = facts.targetGeneration
            let ending = lost.detail.map { " (\($0))" } ?? ""
            let message =
                "instance \(lost.id) of generation \(lost.generation) is \(lost.state)\(ending); starting the next generation"
            events.append(.warning("InstanceLost", message))
            if lost.detail != nil, observed.failed == nil {
                // How it ended is known (an exit at boot, a kill): said in last_error, and the
                // next generation waits for the backoff rather than crash-looping at once.
                problem = message
                outcome = .retry(ReconcileFailure(reason: "InstanceExited", message: message))
            }
        }
        for extra in observed.terminatedExtras {
            events.append(
                .warning("DuplicateInstance", "terminated extra instance \(extra.id) of generation \(extra.generation)"))
        }
        for old in observed.terminated {
            events.append(.normal("InstanceTerminated", "terminated instance \(old.id) of generation \(old.generation)"))
        }
        if observed.created, let kept {
            events.append(.normal("InstanceCreated", "created instance \(kept.id) of generation \(kept.generation)"))
        } else if adopted, let kept {
            events.append(.normal("InstanceAdopted", "adopted instance \(kept.id) of generation \(kept.generation)"))
        }
    }

    var decision: InstanceDecision {
        var status = self.status
        status.error = problem
        status.condition = condition
        return InstanceDecision(status: status, outcome: outcome, events: events)
    }

    /// InstanceReady is true exactly when the phase is running, with the reason of the phase.
    private var condition: WorkspaceCondition {
        if let failure = observed.failed?.failure ?? (status.phase == .failed ? outcome.failure : nil) {
            return WorkspaceCondition(.instanceReady, false, reason: failure.reason, message: failure.message)
        }
        if let problem { return WorkspaceCondition(.instanceReady, false, reason: reason(for: status.phase), message: problem) }
        guard let kept = observed.kept else {
            if plan.steps.contains(.waitForBundle(generation: facts.targetGeneration)) {
                return WorkspaceCondition(
                    .instanceReady, false, reason: "WaitingForBundle",
                    message: "instance generation \(facts.targetGeneration) starts once its bundle is staged")
            }
            return WorkspaceCondition(
                .instanceReady, false, reason: reason(for: status.phase), message: "the workspace is \(status.phase.rawValue)")
        }
        var message = "instance \(kept.id) of generation \(kept.generation) is \(kept.state)"
        if kept.generation != facts.targetGeneration {
            message += "; generation \(facts.targetGeneration) replaces it once its bundle is staged"
        }
        return WorkspaceCondition(.instanceReady, status.phase == .running, reason: reason(for: status.phase), message: message)
    }

    private func reason(for phase: Phase) -> String {
        switch phase {
        case .running: return "Running"
        case .provisioning, .pending: return "Launching"
        case .degraded: return "Degraded"
        case .failed: return "RuntimeUnhealthy"
        case .stopping, .stopped: return "Stopped"
        case .deleting, .deleted: return "Deleted"
        }
    }

    /// A failed workspace is a failed reconcile (retried with backoff); one that may be
    /// remediated is recreated once its failure was recorded in an earlier pass — so the fleet
    /// count the circuit breaker reads includes every workspace failing at once.
    mutating func remediateIfFailed() {
        guard let verdict, verdict.phase == .failed else { return }
        let problem = self.problem ?? "the runtime is unhealthy"
        self.problem = problem
        let failed = ReconcileOutcome.retry(ReconcileFailure(reason: "RuntimeUnhealthy", message: problem))
        outcome = failed
        guard facts.phase == .failed, verdict.remediable, let fleet = context.fleet else { return }
        let attempts = max(0, facts.remediations)
        switch Remediation.decide(
            kind: facts.kind, restartPolicy: facts.restartPolicy, phase: .failed, attempts: attempts,
            lastAttemptAt: facts.lastRemediationAt, now: context.now, fleet: fleet,
            policy: context.remediation)
        {
        case .remediate:
            status.restartFrom = facts.targetGeneration
            status.remediations = attempts + 1
            events.append(.normal("Remediating", "recreating the failed workspace (remediation \(attempts + 1)): \(problem)"))
            outcome = .done
        case .waitUntil(let due):
            outcome = .requeueAfter(.seconds(max(1, due.timeIntervalSince(context.now))))
        case .budgetSpent(let message):
            events.append(.warning("RemediationBudgetSpent", message))
            self.problem = "\(problem); \(message)"
            outcome = .retry(ReconcileFailure(reason: "RuntimeUnhealthy", message: "\(problem); \(message)"))
        case .circuitOpen(let message):
            events.append(.warning("RemediationPaused", message))
            self.problem = "\(problem); \(message)"
            outcome = .retry(ReconcileFailure(reason: "RuntimeUnhealthy", message: "\(problem); \(message)"))
        case .none:
            break
        }
    }

    /// Seed 000's rules, for a running instance of the current generation whose staged bundle
    /// differs from the one it booted with.
    var restartDecision: RestartDecision {
        guard let kept = observed.kept, !observed.created, facts.desiredState == .running,
            kept.generation == facts.targetGeneration, facts.stagedGeneration == facts.targetGeneration,
            let booted = status.bootedRuntimeHash, let staged = facts.stagedRuntimeHash
        else { return .none }
        var busySince: Date?
        if case .reported(let heartbeat) = observed.report { busySince = heartbeat.busySince }
        return RestartDecision.decide(
            .init(
                kind: facts.kind, restartPolicy: facts.restartPolicy, runtimeHashChanged: staged != booted,
                authoredByWorkspace: facts.lastSecretWriter == "workspace:\(facts.workspaceID)",
                busySince: busySince, lastChangeAt: facts.lastSecretWriteAt ?? .distantPast, now: context.now))
    }

    mutating func applyRestartRules() {
        var decision = restartDecision
        if decision == .restartNow, let wait = context.restartWait, wait > 0 {
            decision = .debounce(until: context.now.addingTimeInterval(wait))
        }
        status.restartPending = decision.marksRestartPending
        guard outcome.failure == nil else { return }
        switch decision {
        case .restartNow:
            status.restartFrom = facts.targetGeneration
            events.append(.normal("RestartingForConfig", "a secret or template change the runtime consumes needs a new instance"))
        case .debounce(let until):
            outcome = .requeueAfter(.seconds(max(1, until.timeIntervalSince(context.now))))
        case .none, .waitForTurnEnd, .pending:
            break
        }
    }

    /// Waiting for a bundle that cannot be staged (its controller failed terminally, e.g. a
    /// template file that may not be delivered) is not provisioning: the workspace is failed,
    /// with that reason, until the input changes.
    mutating func failIfBundleCannotBeStaged() {
        guard let bundleFailure = facts.bundleFailure, observed.kept == nil, observed.failed == nil,
            plan.steps.contains(.waitForBundle(generation: facts.targetGeneration))
        else { return }
        let message = "the bundle of instance generation \(facts.targetGeneration) cannot be staged: \(bundleFailure)"
        status.phase = .failed
        problem = message
        outcome = .terminal(ReconcileFailure(reason: "BundleNotStaged", message: message))
    }

    /// An unanswered runtime is looked at again no later than its next threshold (degraded,
    /// failed), so its phase changes when the threshold is crossed, not up to a whole watch
    /// and probe later: the thresholds hold whatever the watch and however long a probe takes.
    mutating func lookByTheNextThreshold() {
        guard let changesAt = verdict?.changesAt else { return }
        let remaining = Duration.seconds(max(0.1, changesAt.timeIntervalSince(context.now)))
        switch outcome {
        case .watch(let after): outcome = .watch(min(after, remaining))
        case .requeueAfter(let after): outcome = .requeueAfter(min(after, remaining))
        case .done, .retry, .terminal: break
        }
    }

    /// A stopped (or deleted) workspace's instance generation is spent: the next start is a new
    /// generation with a fresh token, an ordinary step and not a lost instance.
    mutating func recordStop() {
        guard facts.desiredState != .running,
            observed.terminated.contains(where: { $0.generation == facts.targetGeneration })
        else { return }
        status.restartFrom = facts.targetGeneration
    }
}
