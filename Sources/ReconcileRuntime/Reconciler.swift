import Foundation

/// The reconcile contract, after controller-runtime's `pkg/reconcile`:
///
/// - The request is only a key and the generation that was read when its lease was taken; the
///   reconciler re-reads everything else itself. Reconciliation is level-based: it compares
///   what should be with what is, and acts on the difference, never on how it got there.
/// - The outcome is one of: done; done but look again after a while; a retryable failure
///   (retried with persisted, per-key exponential backoff); a terminal failure (logged,
///   counted, and not retried until the key's desired generation changes).
/// - A reconciler that throws has failed retryably.
public protocol Reconciler: Sendable {
    /// The controller's name: also its table and its NOTIFY channel.
    var name: String { get }

    func reconcile(_ request: ReconcileRequest) async throws -> ReconcileOutcome
}

public struct ReconcileRequest: Sendable {
    /// The resource key (a uuid in text form).
    public let key: String
    /// The desired generation read when the lease was taken; a success records it as observed.
    public let desiredGeneration: Int64
    /// Failed attempts since the last success.
    public let attempts: Int
    /// The lease this reconcile holds; every status write must be conditional on it.
    public let fence: Fence
    /// Unique per reconcile, for log correlation.
    public let reconcileID: String
    /// The database-clock override (tests and tick mode); nil means the database's `now()`.
    public let now: Date?
    /// Where the reconciler records the provider actions it performs.
    public let actions: ActionLog

    public init(key: String, desiredGeneration: Int64, attempts: Int, fence: Fence,
                reconcileID: String, now: Date?, actions: ActionLog) {
        self.key = key
        self.desiredGeneration = desiredGeneration
        self.attempts = attempts
        self.fence = fence
        self.reconcileID = reconcileID
        self.now = now
        self.actions = actions
    }
}

/// A lease held on one key: the holder and the fencing token of this acquisition.
public struct Fence: Sendable, Hashable {
    public let holder: String
    public let token: Int64

    public init(holder: String, token: Int64) {
        self.holder = holder
        self.token = token
    }
}

public enum ReconcileOutcome: Sendable, Equatable {
    case done
    /// Converged; look at the key again after this long (in memory, not persisted).
    case requeueAfter(Duration)
    case retry(ReconcileFailure)
    case terminal(ReconcileFailure)
}

/// Why a reconcile failed. `reason` is a short CamelCase word from a bounded set (it becomes an
/// event reason); `message` is for people and must never contain a secret value.
public struct ReconcileFailure: Error, Sendable, Equatable, CustomStringConvertible {
    public var reason: String
    public var message: String
    /// A provider asked us to wait this long (throttling); the retry waits at least this much.
    public var retryAfter: Duration?

    public init(reason: String, message: String, retryAfter: Duration? = nil) {
        self.reason = reason
        self.message = message
        self.retryAfter = retryAfter
    }

    public var description: String { "\(reason): \(message)" }
}
