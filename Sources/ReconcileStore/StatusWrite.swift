import Foundation
import ReconcileRuntime

/// What one finished reconcile writes back, in the same statement that releases its lease.
public struct StatusWrite: Sendable, Equatable {
    /// When the key is looked at next (`next_attempt_at`).
    public enum Next: Sendable, Equatable {
        /// Converged: nothing scheduled.
        case none
        /// Look again this many seconds after the database's now (a watch, or a key still
        /// converging). An earlier look already scheduled is kept, so a pass that asks for the
        /// same look again writes nothing.
        case look(seconds: Double)
        /// Failed: retry this many seconds after the database's now.
        case retry(seconds: Double)
        /// Failed terminally: not retried until the desired generation changes.
        case never
    }

    public var key: String
    public var token: Int64
    /// The desired generation the reconcile claimed: if the key's generation moved on while it
    /// ran, the next look is dropped so the change is looked at now (a `*` resync finds it).
    public var claimedGeneration: Int64?
    /// The generation now observed; nil leaves it unchanged (a failure, or not converged yet).
    public var observedGeneration: Int64?
    /// nil clears `last_error`; a message sets it and counts an attempt.
    public var error: String?
    public var next: Next
    /// The controller's status value as JSON, read by its `StatusColumns`; nil leaves it as is.
    public var status: String?
    public var events: [ReconcileEvent]
    public var wakes: [Wake]

    public init(
        key: String, token: Int64, claimedGeneration: Int64? = nil, observedGeneration: Int64?, error: String?,
        next: Next, status: String? = nil, events: [ReconcileEvent] = [], wakes: [Wake] = []
    ) {
        self.key = key
        self.token = token
        self.claimedGeneration = claimedGeneration
        self.observedGeneration = observedGeneration
        self.error = error
        self.next = next
        self.status = status
        self.events = events
        self.wakes = wakes
    }
}
