import Foundation

/// The reconcile contract, after controller-runtime's `pkg/reconcile`:
///
/// - The request is only a key and the generation that was read when its lease was taken; the
///   reconciler re-reads everything else itself. Reconciliation is level-based: it compares
///   what should be with what is, and acts on the difference, never on how it got there.
/// - It makes provider calls and decides; it writes nothing itself. What it observed and
///   decided comes back as a `ReconcileResult` value (the outcome, the status, the events, the
///   keys of other controllers to wake), which the host writes in one batched statement fenced
///   by the lease: a worker whose lease was taken over has its whole result dropped at once.
/// - The outcome is one of: converged; converged but watched (look again later); not converged
///   yet (look again later); a retryable failure (retried with persisted, per-key exponential
///   backoff); a terminal failure (logged, counted, and not retried until the key's desired
///   generation changes). Every "look again" is persisted with the key, so any replica's due
///   resync picks it up when this one dies.
/// - A reconciler that throws has failed: terminally when the error says so
///   (`ClassifiedFailure`), retryably otherwise.
public protocol Reconciler: Sendable {
    /// The controller's name: also its table and its NOTIFY channel.
    var name: String { get }

    func reconcile(_ request: ReconcileRequest) async throws -> ReconcileResult
}

public struct ReconcileRequest: Sendable {
    /// The resource key (a uuid in text form).
    public let key: String
    /// The desired generation read when the lease was taken; a success records it as observed.
    public let desiredGeneration: Int64
    /// Failed attempts since the last success.
    public let attempts: Int
    /// The lease this reconcile holds; the host's write-back is conditional on it.
    public let fence: Fence
    /// Unique per reconcile, for log correlation.
    public let reconcileID: String
    /// The database-clock override (tests and tick mode); nil means the database's `now()`.
    public let now: Date?
    /// Where the reconciler records the provider actions it performs.
    public let actions: ActionLog
    /// Cancelled when the lease can no longer be trusted (renewals failed past its deadline):
    /// long provider sequences check it between steps.
    public let lease: LeaseTrust

    public init(
        key: String, desiredGeneration: Int64, attempts: Int, fence: Fence, reconcileID: String, now: Date?,
        actions: ActionLog, lease: LeaseTrust = LeaseTrust()
    ) {
        self.key = key
        self.desiredGeneration = desiredGeneration
        self.attempts = attempts
        self.fence = fence
        self.reconcileID = reconcileID
        self.now = now
        self.actions = actions
        self.lease = lease
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
    /// Converged: the observed generation is recorded, nothing is scheduled.
    case done
    /// Converged, and watched: look again after this long (a health watch). Persisted, but the
    /// key counts as converged meanwhile.
    case watch(Duration)
    /// Not converged yet (an instance booting, a debounce, a remediation backoff): look again
    /// after this long. Persisted; the observed generation is not recorded until it converges.
    case requeueAfter(Duration)
    case retry(ReconcileFailure)
    case terminal(ReconcileFailure)

    /// The failure, for the two failed outcomes.
    public var failure: ReconcileFailure? {
        switch self {
        case .retry(let failure), .terminal(let failure): return failure
        case .done, .watch, .requeueAfter: return nil
        }
    }
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

/// An error that knows the failure it stands for and whether retrying can help; classified
/// once, where it is raised (a provider boundary), so the host never guesses.
public protocol ClassifiedFailure: Error {
    var failure: ReconcileFailure { get }
    var isTerminal: Bool { get }
}

extension ReconcileOutcome {
    /// The outcome a classified error calls for.
    public static func failed(_ error: any ClassifiedFailure) -> ReconcileOutcome {
        error.isTerminal ? .terminal(error.failure) : .retry(error.failure)
    }
}
