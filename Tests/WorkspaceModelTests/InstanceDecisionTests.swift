import Foundation
import ReconcileRuntime
import Testing
import WorkspaceModel

/// The instances controller's whole decision, as a table: no database, no provider, no sleep.
@Suite("instance decision (health, remediation, restarts, next look)")
struct InstanceDecisionTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)
    static let watch = InstanceDecision.Watch(running: .seconds(3), converging: .seconds(2))
    static let running = ObservedInstance(id: "i-1", generation: 1, state: "running", running: true, address: "127.0.0.1:1")

    static func facts(
        kind: WorkspaceKind = .agent, policy: RestartPolicy = .auto, desired: DesiredState = .running,
        phase: Phase = .running, target: Int64 = 1, booted: String? = "h1", staged: String? = "h1",
        unresponsiveSince: Date? = nil, remediations: Int = 0, lastRemediationAt: Date? = nil,
        lastWriteSecondsAgo: TimeInterval = 600, launchedSecondsAgo: TimeInterval = 3_600
    ) -> InstanceFacts {
        InstanceFacts(
            workspaceID: "w", kind: kind, desiredState: desired, image: "img", phase: phase, restartPolicy: policy,
            targetGeneration: target, stagedGeneration: target, stagedRuntimeHash: staged, bootedRuntimeHash: booted,
            instanceID: "i-1", launchedAt: now - launchedSecondsAgo, unresponsiveSince: unresponsiveSince,
            lastSecretWriteAt: now - lastWriteSecondsAgo, lastSecretWriter: "operator",
            remediations: remediations, lastRemediationAt: lastRemediationAt)
    }

    static func ready(busy: Bool = false) -> InstanceHealth.Report {
        .reported(.init(ready: true, reportedAt: now, busySince: busy ? now - 5 : nil))
    }

    static func silent(for seconds: TimeInterval) -> InstanceHealth.Report {
        .unresponsive(since: now - seconds, error: "connection refused")
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var facts: InstanceFacts
        var observed: InstanceObservation
        var plan = InstancePlan(steps: [], keep: nil, phase: .running)
        var fleet = Remediation.FleetHealth(failing: 1, total: 10)
        var restartWait: TimeInterval = 0
        // Expected
        var phase: Phase
        var outcome: ReconcileOutcome
        var ready: Bool
        var restartFrom: Int64? = nil
        var remediations: Int = 0
        var restartPending = false
        var events: [String] = []
        var errorContains: String? = nil

        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(
            name: "a running runtime that answers is running, watched calmly, its remediation count reset",
            facts: facts(remediations: 2), observed: .init(kept: running, report: ready()),
            phase: .running, outcome: .watch(.seconds(3)), ready: true),
        Case(
            name: "a new instance is provisioning and looked at again soon; it boots with the staged bundle",
            facts: facts(phase: .pending, booted: nil), observed: .init(kept: running, created: true),
            phase: .provisioning, outcome: .requeueAfter(.seconds(2)), ready: false, events: ["InstanceCreated"]),
        Case(
            name: "a runtime silent for 5 s is still running",
            facts: facts(), observed: .init(kept: running, report: silent(for: 5)),
            phase: .running, outcome: .watch(.seconds(3)), ready: true),
        Case(
            name: "a runtime silent for 8 s is looked at again when it has been silent 10 s, not a whole watch later",
            facts: facts(), observed: .init(kept: running, report: silent(for: 8)),
            phase: .running, outcome: .watch(.seconds(2)), ready: true),
        Case(
            name: "a degraded runtime silent for 29 s is looked at again when it has been silent 30 s",
            facts: facts(phase: .degraded), observed: .init(kept: running, report: silent(for: 29)),
            phase: .degraded, outcome: .requeueAfter(.seconds(1)), ready: false, errorContains: "has not answered for 29 s"),
        Case(
            name: "a runtime silent for 15 s is degraded, with the reason",
            facts: facts(), observed: .init(kept: running, report: silent(for: 15)),
            phase: .degraded, outcome: .requeueAfter(.seconds(2)), ready: false, errorContains: "has not answered for 15 s"),
        Case(
            name: "a runtime silent for 40 s is failed: a failed reconcile, surfaced",
            facts: facts(phase: .degraded), observed: .init(kept: running, report: silent(for: 40)),
            phase: .failed, outcome: .retry(.init(reason: "RuntimeUnhealthy", message: "")), ready: false,
            errorContains: "has not answered for 40 s"),
        Case(
            name: "a runtime that never answered yet is still starting",
            facts: facts(phase: .provisioning, launchedSecondsAgo: 40), observed: .init(kept: running, report: silent(for: 40)),
            phase: .provisioning, outcome: .requeueAfter(.seconds(2)), ready: false),
        Case(
            name: "a runtime that never answered in its startup window is failed, with the reason",
            facts: facts(phase: .provisioning), observed: .init(kept: running, report: silent(for: 3_000)),
            phase: .failed, outcome: .retry(.init(reason: "RuntimeUnhealthy", message: "")), ready: false,
            errorContains: "does not answer (connection refused) 600 s after launch"),
        Case(
            name: "a failed auto agent, failed before: recreated, counted",
            facts: facts(phase: .failed), observed: .init(kept: running, report: silent(for: 40)),
            phase: .failed, outcome: .done, ready: false, restartFrom: 1, remediations: 1, events: ["Remediating"],
            errorContains: "has not answered for 40 s"),
        Case(
            name: "a failed manual agent: surfaced and left for the operator",
            facts: facts(policy: .manual, phase: .failed), observed: .init(kept: running, report: silent(for: 40)),
            phase: .failed, outcome: .retry(.init(reason: "RuntimeUnhealthy", message: "")), ready: false,
            errorContains: "has not answered for 40 s"),
        Case(
            name: "a failed platform workspace during an outage: the circuit is open and says so",
            facts: facts(kind: .platform, phase: .failed), observed: .init(kept: running, report: silent(for: 40)),
            fleet: .init(failing: 8, total: 10),
            phase: .failed, outcome: .retry(.init(reason: "RuntimeUnhealthy", message: "")), ready: false,
            events: ["RemediationPaused"], errorContains: "paused"),
        Case(
            name: "a failed platform workspace whose budget is spent says so",
            facts: facts(kind: .platform, phase: .failed, remediations: 3, lastRemediationAt: now - 86_400),
            observed: .init(kept: running, report: silent(for: 40)),
            phase: .failed, outcome: .retry(.init(reason: "RuntimeUnhealthy", message: "")), ready: false, remediations: 3,
            events: ["RemediationBudgetSpent"], errorContains: "gave up"),
        Case(
            name: "a failed platform workspace inside its remediation backoff waits for it",
            facts: facts(kind: .platform, phase: .failed, remediations: 1, lastRemediationAt: now - 10),
            observed: .init(kept: running, report: silent(for: 40)),
            phase: .failed, outcome: .requeueAfter(.seconds(110)), ready: false, remediations: 1,
            errorContains: "has not answered for 40 s"),
        Case(
            name: "a create answered with a dead instance: the next generation replaces it, as a Warning",
            facts: facts(phase: .running),
            observed: .init(lost: .init(id: "i-1", generation: 1, state: "terminated", running: false)),
            plan: .init(steps: [.create(generation: 1)], keep: nil, phase: .provisioning),
            phase: .provisioning, outcome: .done, ready: false, restartFrom: 1, events: ["InstanceLost"]),
        Case(
            name:
                "a create answered with an instance whose ending is known: replaced after the backoff, last_error says how it ended",
            facts: facts(phase: .running),
            observed: .init(
                lost: .init(
                    id: "c-1", generation: 1, state: "terminated", running: false,
                    detail: "container c-1 exited with exit code 1; last log lines: Error: bad bundle")),
            plan: .init(steps: [.create(generation: 1)], keep: nil, phase: .provisioning),
            phase: .provisioning, outcome: .retry(.init(reason: "InstanceExited", message: "")), ready: false,
            restartFrom: 1, events: ["InstanceLost"], errorContains: "exit code 1; last log lines: Error: bad bundle"),
        Case(
            name: "a stop spends the generation: the next start is a new one, without a Warning",
            facts: facts(desired: .stopped), observed: .init(terminated: [running]),
            plan: .init(steps: [.terminateStale(id: "i-1")], keep: nil, phase: .stopped),
            phase: .stopped, outcome: .done, ready: false, restartFrom: 1, events: ["InstanceTerminated"]),
        Case(
            name: "a consumed change on an idle agent, quiet: restarted now",
            facts: facts(staged: "h2"), observed: .init(kept: running, report: ready()),
            phase: .running, outcome: .watch(.seconds(3)), ready: true, restartFrom: 1, events: ["RestartingForConfig"]),
        Case(
            name: "a consumed change while the fleet's pacer says wait: debounced, looked at when it may",
            facts: facts(staged: "h2"), observed: .init(kept: running, report: ready()), restartWait: 5,
            phase: .running, outcome: .requeueAfter(.seconds(5)), ready: true),
        Case(
            name: "a consumed change during a turn: restart_pending",
            facts: facts(staged: "h2"), observed: .init(kept: running, report: ready(busy: true)),
            phase: .running, outcome: .watch(.seconds(3)), ready: true, restartPending: true),
        Case(
            name: "a consumed change on a platform workspace: restart_pending, never restarted",
            facts: facts(kind: .platform, staged: "h2"), observed: .init(kept: running, report: ready()),
            phase: .running, outcome: .watch(.seconds(3)), ready: true, restartPending: true),
        Case(
            name: "waiting for a bundle that is being staged: provisioning, looked at again",
            facts: facts(phase: .pending, target: 2), observed: .init(),
            plan: .init(steps: [.waitForBundle(generation: 2)], keep: nil, phase: .provisioning),
            phase: .provisioning, outcome: .requeueAfter(.seconds(2)), ready: false),
        Case(
            name: "waiting for a bundle that cannot be staged: failed with that reason, until the input changes",
            facts: {
                var f = facts(phase: .pending, target: 2); f.bundleFailure = "template 't': prompts/../x escapes"; return f
            }(),
            observed: .init(),
            plan: .init(steps: [.waitForBundle(generation: 2)], keep: nil, phase: .provisioning),
            phase: .failed, outcome: .terminal(.init(reason: "BundleNotStaged", message: "")), ready: false,
            errorContains: "cannot be staged: template 't'"),
        Case(
            name: "a provider failure before anything was seen: the failure is the condition and the error",
            facts: facts(phase: .provisioning),
            observed: .init(failed: .retry(.init(reason: "ProviderUnavailable", message: "instances: create: 503"))),
            plan: .init(steps: [.create(generation: 1)], keep: nil, phase: .provisioning),
            phase: .provisioning, outcome: .retry(.init(reason: "ProviderUnavailable", message: "instances: create: 503")),
            ready: false, errorContains: "create: 503"),
    ]

    @Test("decisions", arguments: cases)
    func decide(_ row: Case) {
        var context = InstanceDecision.Context(now: Self.now, watch: Self.watch, fleet: row.fleet, restartWait: row.restartWait)
        context.thresholds.unresponsiveDegraded = 10
        context.thresholds.unresponsiveFailed = 30
        let decision = InstanceDecision.decide(row.facts, plan: row.plan, observed: row.observed, context: context)
        #expect(decision.status.phase == row.phase)
        switch (decision.outcome, row.outcome) {
        case (.retry(let got), .retry(let want)), (.terminal(let got), .terminal(let want)):
            #expect(got.reason == want.reason)
        default:
            #expect(decision.outcome == row.outcome)
        }
        // InstanceReady is true exactly when the phase is running.
        #expect(decision.status.condition.isTrue == row.ready)
        #expect(decision.status.condition.isTrue == (decision.status.phase == .running))
        #expect(decision.status.restartFrom == row.restartFrom)
        #expect(decision.status.remediations == row.remediations)
        #expect(decision.status.restartPending == row.restartPending)
        #expect(decision.events.map(\.reason) == row.events)
        // Every mutation is a Normal event, remediation included; Warnings are for failures.
        let mutations: Set = ["InstanceCreated", "InstanceAdopted", "InstanceTerminated", "RestartingForConfig", "Remediating"]
        for event in decision.events where mutations.contains(event.reason) {
            #expect(event.type == .normal, "\(event.reason) is a \(event.type) event")
        }
        if let contains = row.errorContains {
            #expect(decision.status.error?.contains(contains) == true, "\(decision.status.error ?? "no error")")
        } else {
            #expect(decision.status.error == nil)
        }
        // A failure is always surfaced; a surfaced problem is never a plain success.
        if decision.outcome.failure != nil { #expect(decision.status.error != nil) }
    }

    @Test("no value a row can hold makes a decision trap", arguments: [Int.min, -1, 0, 3, Int.max])
    func extremes(_ count: Int) {
        for seconds in [-1e12, -1, 0, 29, 31, 1e12] {
            var facts = Self.facts(
                kind: .platform, phase: .failed, target: count == Int.max ? .max : 1, remediations: count,
                lastRemediationAt: Self.now + seconds, lastWriteSecondsAgo: -seconds)
            facts.launchedAt = Self.now + seconds
            facts.stagedRuntimeHash = "h2"
            let lost = ObservedInstance(id: "i-9", generation: .max, state: "terminated", running: false)
            _ = InstanceDecision.decide(
                facts, plan: .init(steps: [.create(generation: .max)], keep: nil, phase: .provisioning),
                observed: .init(lost: lost), context: .init(now: Self.now, watch: Self.watch))
            for report in [Self.silent(for: seconds), Self.ready(), .none] {
                let context = InstanceDecision.Context(
                    now: Self.now, watch: Self.watch, fleet: .init(failing: count, total: count),
                    restartWait: seconds)
                let decision = InstanceDecision.decide(
                    facts, plan: .init(steps: [], keep: nil, phase: .running),
                    observed: .init(kept: Self.running, report: report), context: context)
                #expect(decision.status.remediations >= 0)
            }
        }
    }
}
