import Foundation

/// Whether a running instance must restart to see a new bundle (seed 000), decided as a pure
/// function so every rule is a table row in the tests. Explicit restarts (the restart counter,
/// a remediation) do not go through here.
public enum RestartDecision: Sendable, Equatable {
    /// Nothing the runtime consumes changed (a non-consumed key, an org key it overrides...).
    case none
    case restartNow
    /// More changes may follow: wait until the burst is over, then decide again.
    case debounce(until: Date)
    /// The runtime is busy in a turn: `restart_pending`, decide again when the turn ends.
    case waitForTurnEnd
    /// Never restarted automatically: `restart_pending` until an operator or the workspace asks.
    case pending(reason: String)

    /// Whether `workspaces.restart_pending` should say a restart is waiting.
    public var marksRestartPending: Bool {
        switch self {
        case .waitForTurnEnd, .pending: return true
        case .none, .restartNow, .debounce: return false
        }
    }

    public struct Inputs: Sendable {
        public var kind: WorkspaceKind
        public var restartPolicy: RestartPolicy
        /// The staged bundle's runtime hash differs from the one the instance booted with.
        public var runtimeHashChanged: Bool
        /// The latest change was written by the workspace itself (`written_by = workspace:<id>`).
        public var authoredByWorkspace: Bool
        public var busySince: Date?
        /// When the latest input change was written.
        public var lastChangeAt: Date
        public var now: Date
        /// Quiet time after the last change before restarting. Default 10 s.
        public var debounce: TimeInterval

        public init(
            kind: WorkspaceKind, restartPolicy: RestartPolicy, runtimeHashChanged: Bool, authoredByWorkspace: Bool,
            busySince: Date?, lastChangeAt: Date, now: Date, debounce: TimeInterval = 10
        ) {
            self.kind = kind
            self.restartPolicy = restartPolicy
            self.runtimeHashChanged = runtimeHashChanged
            self.authoredByWorkspace = authoredByWorkspace
            self.busySince = busySince
            self.lastChangeAt = lastChangeAt
            self.now = now
            self.debounce = debounce
        }
    }

    public static func decide(_ inputs: Inputs) -> RestartDecision {
        guard inputs.runtimeHashChanged else { return .none }
        if inputs.kind == .platform {
            return .pending(reason: "platform workspaces are never restarted automatically")
        }
        if inputs.authoredByWorkspace {
            return .pending(reason: "the workspace changed its own secrets; it restarts when it asks")
        }
        if inputs.restartPolicy != .auto {
            return .pending(reason: "restart_policy is manual")
        }
        let quietAt = inputs.lastChangeAt.addingTimeInterval(inputs.debounce)
        if inputs.now < quietAt { return .debounce(until: quietAt) }
        if inputs.busySince != nil { return .waitForTurnEnd }
        return .restartNow
    }
}
