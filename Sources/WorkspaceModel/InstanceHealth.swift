import Foundation

/// The phase of a workspace whose instance exists, from the runtime's heartbeat: nothing fails
/// silently — a runtime that never reports, or stops reporting, is named in the problem.
public enum InstanceHealth {
    public struct Heartbeat: Sendable, Equatable {
        public var ready: Bool
        public var reportedAt: Date
        /// Whether the runtime reports the management MCP server present.
        public var managementMCPPresent: Bool

        public init(ready: Bool, reportedAt: Date, managementMCPPresent: Bool = false) {
            self.ready = ready
            self.reportedAt = reportedAt
            self.managementMCPPresent = managementMCPPresent
        }
    }

    public struct Verdict: Sendable, Equatable {
        public var phase: String
        /// Why the workspace is not healthy, for `last_error`.
        public var problem: String?
        /// Whether recreating the instance can fix it. A missing management MCP cannot: a new
        /// instance boots without it too; the declared-plugins controller delivers it (seed 001).
        public var remediable: Bool

        public init(phase: String, problem: String?, remediable: Bool = true) {
            self.phase = phase
            self.problem = problem
            self.remediable = remediable
        }
    }

    /// - Parameters:
    ///   - startupTimeout: how long a new instance may take to report ready. Default 600 s.
    ///   - heartbeatTimeout: silence after which a running instance is degraded; twice that, failed. Default 120 s.
    ///   - requiresManagementMCP: a platform workspace that declares the management MCP is not
    ///     online without it (fail closed, the platform's RCA #2970 gate).
    public static func evaluate(instanceID: String, launchedAt: Date?, heartbeat: Heartbeat?, now: Date,
                                requiresManagementMCP: Bool = false,
                                startupTimeout: TimeInterval = 600, heartbeatTimeout: TimeInterval = 120) -> Verdict {
        let sinceLaunch = now.timeIntervalSince(launchedAt ?? now)
        guard let heartbeat else {
            if sinceLaunch <= startupTimeout { return Verdict(phase: "provisioning", problem: nil) }
            return Verdict(phase: "failed",
                           problem: "no runtime heartbeat \(Int(startupTimeout)) s after launch of instance \(instanceID)")
        }
        let silence = now.timeIntervalSince(heartbeat.reportedAt)
        if silence > 2 * heartbeatTimeout {
            return Verdict(phase: "failed", problem: "instance \(instanceID) stopped reporting \(Int(silence)) s ago")
        }
        if silence > heartbeatTimeout {
            return Verdict(phase: "degraded", problem: "instance \(instanceID) has not reported for \(Int(silence)) s")
        }
        if heartbeat.ready, requiresManagementMCP, !heartbeat.managementMCPPresent {
            // A new instance gets the MCP from the declared-plugins controller within moments.
            if sinceLaunch <= startupTimeout { return Verdict(phase: "provisioning", problem: nil) }
            return Verdict(phase: "failed",
                           problem: "the runtime of instance \(instanceID) reports the management MCP server missing; not online until the declared-plugins controller delivers it (fail closed)",
                           remediable: false)
        }
        if heartbeat.ready { return Verdict(phase: "running", problem: nil) }
        if sinceLaunch <= startupTimeout { return Verdict(phase: "provisioning", problem: nil) }
        return Verdict(phase: "failed",
                       problem: "the runtime of instance \(instanceID) is not ready \(Int(startupTimeout)) s after launch")
    }
}

/// Whether to recreate a failed platform workspace now (seed 000: failed platform workspaces
/// recover by themselves), with a retry budget, backoff, and a fleet-wide circuit breaker that
/// stops remediation during an outage and says so.
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

    public static func decide(kind: String, phase: String, attempts: Int, lastAttemptAt: Date?, now: Date,
                              failing: Int, total: Int, policy: Policy = Policy()) -> Decision {
        guard phase == "failed", kind == "platform" else { return .none }
        if total >= policy.minimumFleet, Double(failing) / Double(total) > policy.maxFailingShare {
            return .circuitOpen("automatic remediation paused: \(failing) of \(total) workspaces are failing, which looks like an outage rather than a faulty workspace")
        }
        if attempts >= policy.budget {
            return .budgetSpent("automatic remediation gave up after \(attempts) attempt(s); bump restart_requests to try again")
        }
        if let lastAttemptAt {
            var wait = policy.backoff
            for _ in 0..<attempts { wait *= 2 }
            let due = lastAttemptAt.addingTimeInterval(wait)
            if now < due { return .waitUntil(due) }
        }
        return .remediate
    }
}
