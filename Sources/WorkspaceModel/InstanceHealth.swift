import Foundation

/// The phase of a workspace whose instance exists, from what its runtime reported: nothing
/// fails silently — a runtime that never reports, stops reporting or stops answering is named
/// in the problem, and the phase says so.
public enum InstanceHealth {
    public struct Heartbeat: Sendable, Equatable {
        public var ready: Bool
        public var reportedAt: Date
        /// Whether the runtime reports the management MCP server present.
        public var managementMCPPresent: Bool
        /// Set while the runtime is busy in a turn.
        public var busySince: Date?

        public init(ready: Bool, reportedAt: Date, managementMCPPresent: Bool = false, busySince: Date? = nil) {
            self.ready = ready
            self.reportedAt = reportedAt
            self.managementMCPPresent = managementMCPPresent
            self.busySince = busySince
        }
    }

    /// What is known of the runtime of the instance being judged.
    public enum Report: Sendable, Equatable {
        /// Nothing yet (a new instance, or one just adopted).
        case none
        /// A heartbeat, or a probe's answer (reported now).
        case reported(Heartbeat)
        /// The probe got no answer, since this time (the first unanswered probe after the last
        /// answer); `error` says how it failed.
        case unresponsive(since: Date, error: String)
    }

    public struct Thresholds: Sendable, Equatable {
        /// How long a new instance may take to report ready. Default 600 s.
        public var startup: TimeInterval = 600
        /// Heartbeat silence after which a running instance is degraded; twice that, failed. Default 120 s.
        public var heartbeatSilence: TimeInterval = 120
        /// A runtime that stopped answering its probe is degraded after this long. Default 10 s.
        public var unresponsiveDegraded: TimeInterval = 10
        /// ...and failed after this long. Default 30 s.
        public var unresponsiveFailed: TimeInterval = 30

        public init() {}
    }

    public struct Verdict: Sendable, Equatable {
        public var phase: Phase
        /// Why the workspace is not healthy, for `last_error`.
        public var problem: String?
        /// Whether recreating the instance can fix it. A missing management MCP cannot: a new
        /// instance boots without it too; the declared-plugins controller delivers it (seed 001).
        public var remediable: Bool
        /// When this verdict changes if the runtime stays as it is (an unanswered probe's next
        /// threshold): the workspace must be looked at again no later.
        public var changesAt: Date?

        public init(phase: Phase, problem: String?, remediable: Bool = true, changesAt: Date? = nil) {
            self.phase = phase
            self.problem = problem
            self.remediable = remediable
            self.changesAt = changesAt
        }
    }

    /// - Parameters:
    ///   - answeredBefore: the runtime had reported since its launch (the workspace was running,
    ///     degraded or failed); until then an unanswered probe is a runtime still starting.
    ///   - requiresManagementMCP: a platform workspace that declares the management MCP is not
    ///     online without it (fail closed, the platform's RCA #2970 gate).
    public static func evaluate(
        instanceID: String, launchedAt: Date?, report: Report, answeredBefore: Bool, now: Date,
        requiresManagementMCP: Bool = false, thresholds: Thresholds = Thresholds()
    ) -> Verdict {
        let sinceLaunch = max(0, now.timeIntervalSince(launchedAt ?? now))
        switch report {
        case .none:
            return starting(instanceID, sinceLaunch: sinceLaunch, thresholds, problem: "no runtime heartbeat")
        case .unresponsive(let since, let error):
            guard answeredBefore else {
                return starting(
                    instanceID, sinceLaunch: sinceLaunch, thresholds, problem: "the runtime does not answer (\(error))")
            }
            let silence = max(0, now.timeIntervalSince(since))
            if silence >= thresholds.unresponsiveFailed {
                return Verdict(
                    phase: .failed,
                    problem: "the runtime of instance \(instanceID) has not answered for \(Int(silence)) s: \(error)")
            }
            if silence >= thresholds.unresponsiveDegraded {
                return Verdict(
                    phase: .degraded,
                    problem: "the runtime of instance \(instanceID) has not answered for \(Int(silence)) s: \(error)",
                    changesAt: since.addingTimeInterval(thresholds.unresponsiveFailed))
            }
            return Verdict(phase: .running, problem: nil, changesAt: since.addingTimeInterval(thresholds.unresponsiveDegraded))
        case .reported(let heartbeat):
            return reported(heartbeat, instanceID, sinceLaunch: sinceLaunch, now: now, requiresManagementMCP, thresholds)
        }
    }

    private static func starting(_ instanceID: String, sinceLaunch: TimeInterval, _ thresholds: Thresholds, problem: String)
        -> Verdict
    {
        if sinceLaunch <= thresholds.startup { return Verdict(phase: .provisioning, problem: nil) }
        return Verdict(phase: .failed, problem: "\(problem) \(Int(thresholds.startup)) s after launch of instance \(instanceID)")
    }

    private static func reported(
        _ heartbeat: Heartbeat, _ instanceID: String, sinceLaunch: TimeInterval, now: Date,
        _ requiresManagementMCP: Bool, _ thresholds: Thresholds
    ) -> Verdict {
        let silence = max(0, now.timeIntervalSince(heartbeat.reportedAt))
        if silence > 2 * thresholds.heartbeatSilence {
            return Verdict(phase: .failed, problem: "instance \(instanceID) stopped reporting \(Int(silence)) s ago")
        }
        if silence > thresholds.heartbeatSilence {
            return Verdict(phase: .degraded, problem: "instance \(instanceID) has not reported for \(Int(silence)) s")
        }
        if heartbeat.ready, requiresManagementMCP, !heartbeat.managementMCPPresent {
            // A new instance gets the MCP from the declared-plugins controller within moments.
            if sinceLaunch <= thresholds.startup { return Verdict(phase: .provisioning, problem: nil) }
            return Verdict(
                phase: .failed,
                problem:
                    "the runtime of instance \(instanceID) reports the management MCP server missing; not online until the declared-plugins controller delivers it (fail closed)",
                remediable: false)
        }
        if heartbeat.ready { return Verdict(phase: .running, problem: nil) }
        if sinceLaunch <= thresholds.startup { return Verdict(phase: .provisioning, problem: nil) }
        return Verdict(
            phase: .failed,
            problem: "the runtime of instance \(instanceID) is not ready \(Int(thresholds.startup)) s after launch")
    }
}
