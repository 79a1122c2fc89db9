import Foundation

/// Whether to recreate a failed workspace now (seed 000: failed platform workspaces recover by
/// themselves; agents too when their restart policy is `auto`), with a retry budget, backoff,
/// and a fleet-wide circuit breaker that stops remediation during an outage and says so. A
/// `manual` agent is surfaced and left for the operator.
public enum Remediation {
    public enum Decision: Sendable, Equatable {
        case none
        case remediate
        case waitUntil(Date)
        case budgetSpent(String)
        case circuitOpen(String)
    }

    public struct Policy: Sendable {
        /// Remediations before giving up (until an operator acts). Default 3.
        public var budget = 3
        /// Wait before the first remediation, doubling after each. Default 60 s.
        public var backoff: TimeInterval = 60
        /// Remediation stops when more than this share of running workspaces is failed. Default 0.5.
        public var maxFailingShare = 0.5
        /// The breaker needs at least this many workspaces to judge. Default 4.
        public var minimumFleet = 4

        public init() {}
    }

    /// Workspaces that should run, and how many of them are failed.
    public struct FleetHealth: Sendable, Equatable {
        public var failing: Int
        public var total: Int

        public init(failing: Int, total: Int) {
            self.failing = failing
            self.total = total
        }
    }

    /// Whether the circuit breaker stops remediation: more than `maxFailingShare` of a fleet of
    /// at least `minimumFleet` workspaces is failed.
    public static func circuitOpen(_ fleet: FleetHealth, policy: Policy = Policy()) -> Bool {
        fleet.total >= policy.minimumFleet && Double(fleet.failing) / Double(fleet.total) > policy.maxFailingShare
    }

    /// Whether a failed workspace of this kind and policy is remediated at all.
    public static func applies(kind: WorkspaceKind, restartPolicy: RestartPolicy) -> Bool {
        kind == .platform || restartPolicy == .auto
    }

    public static func decide(
        kind: WorkspaceKind, restartPolicy: RestartPolicy, phase: Phase, attempts: Int,
        lastAttemptAt: Date?, now: Date, fleet: FleetHealth, policy: Policy = Policy()
    ) -> Decision {
        guard phase == .failed, applies(kind: kind, restartPolicy: restartPolicy) else { return .none }
        if circuitOpen(fleet, policy: policy) {
            return .circuitOpen(
                "automatic remediation paused: \(fleet.failing) of \(fleet.total) workspaces are failing, which looks like an outage rather than a faulty workspace"
            )
        }
        let attempts = max(0, attempts)
        if attempts >= policy.budget {
            return .budgetSpent("automatic remediation gave up after \(attempts) attempt(s); bump restart_requests to try again")
        }
        if let lastAttemptAt {
            // Doubling, capped at 2^20 so no count a row can hold overflows.
            let wait = policy.backoff * pow(2, Double(min(attempts, 20)))
            let due = lastAttemptAt.addingTimeInterval(wait)
            if now < due { return .waitUntil(due) }
        }
        return .remediate
    }
}
