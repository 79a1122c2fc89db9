import Foundation
import ReconcileRuntime
import WorkspaceModel

/// The instances controller's decision, evaluated on the recorded rows: the instance on record
/// stands for what the provider lists (it is not asked), and the runtime's report is the
/// heartbeat on record, or what the last probe left (`unresponsive_since`, or an answer while
/// the phase is running).
extension Explainer {
    func instances(_ explained: inout Explanation.Controller) {
        let live: [InstancePlan.Live] =
            facts.instance.flatMap { instance in
                ["running", "pending"].contains(instance.state)
                    ? [.init(id: instance.id, generation: instance.generation, running: instance.running)] : nil
            } ?? []
        let plan = InstancePlan.decide(
            desiredState: facts.desiredState, targetGeneration: facts.targetGeneration,
            stagedGeneration: facts.stagedGeneration, live: live)
        let observed = InstanceObservation(
            kept: plan.keep.flatMap { keep in facts.instance.map { $0.id == keep.id ? $0 : nil } ?? nil },
            report: report)
        var context = InstanceDecision.Context(now: now, watch: .init(running: .seconds(3), converging: .seconds(2)))
        context.remediation = remediation
        context.fleet = fleet
        // The fleet's restart pacer lives in the running replicas; a restart decided now is said as such.
        context.restartWait = 0
        let decision = InstanceDecision.decide(facts, plan: plan, observed: observed, context: context)

        for step in plan.steps {
            switch step {
            case .terminateStale(let id): explained.next.append("terminate instance \(id)")
            case .terminateExtra(let id): explained.next.append("terminate extra instance \(id)")
            case .create(let generation): explained.next.append("create an instance of generation \(generation)")
            case .waitForBundle(let generation):
                if let failure = facts.bundleFailure {
                    if !explained.reasons.contains(.terminalError) { explained.reasons.append(.terminalError) }
                    explained.why.append("the bundle of instance generation \(generation) cannot be staged: \(failure)")
                } else {
                    explained.reasons.append(.waitingForBundle)
                    explained.why.append(
                        "instance generation \(generation) waits for its bundle (staged: generation \(facts.stagedGeneration.map(String.init) ?? "none"))"
                    )
                    explained.next.append("create generation \(generation) once secret_bundles stages its bundle")
                }
            }
        }
        restart(plan, observed, context, into: &explained)
        remediate(decision, into: &explained)
        if !plan.steps.contains(where: { if case .waitForBundle = $0 { true } else { false } }),
            decision.status.phase != .running, facts.desiredState == .running, explained.reasons.isEmpty
        {
            explained.reasons.append(decision.status.phase == .failed ? .unhealthy : .scheduled)
            explained.why.append(
                "phase \(decision.status.phase.rawValue): \(decision.status.condition.reason): \(decision.status.condition.message)"
            )
        }
        explained.next.append("then: \(describe(decision.outcome)); phase \(decision.status.phase.rawValue)")
        for event in decision.events { explained.next.append("event \(event.type.rawValue) \(event.reason): \(event.message)") }
    }

    /// The runtime's last known report, from the rows.
    private var report: InstanceHealth.Report {
        if let heartbeat = facts.heartbeat { return .reported(heartbeat) }
        if let since = facts.unresponsiveSince { return .unresponsive(since: since, error: "no answer recorded") }
        if [.running, .degraded].contains(facts.phase) { return .reported(.init(ready: true, reportedAt: now)) }
        return .none
    }

    private func restart(
        _ plan: InstancePlan, _ observed: InstanceObservation, _ context: InstanceDecision.Context,
        into explained: inout Explanation.Controller
    ) {
        switch InstanceDecision.restartDecision(facts, plan: plan, observed: observed, context: context) {
        case .none:
            break
        case .restartNow:
            explained.next.append(
                "restart: a change the runtime consumes needs a new instance (paced by the fleet's restart pacer)")
        case .debounce(let until):
            explained.reasons.append(.restartDebounced)
            explained.why.append("a change the runtime consumes was written moments ago; more may follow")
            explained.next.append("decide the restart at \(Timestamp.format(until))")
        case .waitForTurnEnd:
            explained.reasons.append(.restartDeferredBusyTurn)
            explained.why.append(
                "a change the runtime consumes needs a restart, but the runtime is busy in a turn since \(Timestamp.format(facts.heartbeat?.busySince)) (restart_pending)"
            )
            explained.next.append("restart when the turn ends (the heartbeat's busy_since clears)")
        case .pending(let reason):
            explained.reasons.append(.restartPending)
            explained.why.append("restart_pending: \(reason)")
            explained.next.append("nothing until restart_requests is bumped")
        }
    }

    private func remediate(_ decision: InstanceDecision, into explained: inout Explanation.Controller) {
        guard decision.status.phase == .failed || facts.phase == .failed else { return }
        switch Remediation.decide(
            kind: facts.kind, restartPolicy: facts.restartPolicy, phase: .failed, attempts: facts.remediations,
            lastAttemptAt: facts.lastRemediationAt, now: now, fleet: fleet, policy: remediation)
        {
        case .none:
            explained.why.append("failed; not remediated automatically (restart_policy manual): bump restart_requests")
        case .remediate:
            explained.next.append(
                "recreate the failed workspace (remediation \(facts.remediations + 1) of \(remediation.budget))")
        case .waitUntil(let due):
            explained.reasons.append(.remediationBackoff)
            explained.why.append("failed; remediation \(facts.remediations + 1) of \(remediation.budget) waits for its backoff")
            explained.next.append("recreate at \(Timestamp.format(due))")
        case .budgetSpent(let message):
            explained.reasons.append(.remediationBudgetSpent)
            explained.why.append(message)
        case .circuitOpen(let message):
            explained.reasons.append(.circuitOpen)
            explained.why.append(message)
        }
    }

    private func describe(_ outcome: ReconcileOutcome) -> String {
        switch outcome {
        case .done: return "done"
        case .watch(let after): return "watch again in \(after.seconds.formatted()) s"
        case .requeueAfter(let after): return "look again in \(after.seconds.formatted()) s"
        case .retry(let failure): return "fail (\(failure.reason)) and retry with backoff: \(failure.message)"
        case .terminal(let failure): return "fail terminally (\(failure.reason)): \(failure.message)"
        }
    }
}
