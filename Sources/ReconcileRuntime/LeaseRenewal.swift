/// Lease renewal for one batch, as a state machine that returns what to do next; the batch
/// processor's renewal task only performs it. Expiry itself is decided by the database clock;
/// this paces the holder and tells it when it can no longer trust its lease.
///
/// Times are the holder's monotonic clock. A lease claimed or renewed by a request sent at `t`
/// lasts at least until `t + duration` by the database's clock, so the holder trusts it until
/// a little before that (`trustDeadline`), and stops acting on the key past it: the fence
/// already refuses a stale write; this also stops the provider calls.
public struct LeaseRenewal: Sendable, Equatable {
    public let duration: Duration
    /// When the request that last extended the lease was sent.
    public private(set) var confirmedAt: Duration

    public enum Action: Sendable, Equatable {
        /// Renew at this time.
        case renew(at: Duration)
        /// The lease can no longer be trusted: cancel what runs under it.
        case distrust
    }

    public init(duration: Duration, claimedAt: Duration) {
        precondition(duration > .zero, "a lease needs a duration")
        self.duration = duration
        self.confirmedAt = claimedAt
    }

    /// Renew every third of the duration, so two renewals may fail before the lease lapses.
    public var renewInterval: Duration { duration / 3 }

    /// A tenth of the duration short of the lease's end: room for the two clocks' rates.
    public var trustDeadline: Duration { confirmedAt + duration - duration / 10 }

    /// The duration in seconds, as the database wants it (fractions allowed).
    public var durationSeconds: Double { duration.seconds }

    /// The first renewal, right after the claim.
    public var first: Action { .renew(at: confirmedAt + renewInterval) }

    /// A renewal sent at `sentAt` extended the lease.
    public mutating func renewed(sentAt: Duration) -> Action {
        confirmedAt = max(confirmedAt, sentAt)
        return .renew(at: confirmedAt + renewInterval)
    }

    /// A renewal failed (an error, or no answer) at `now`: try again soon while the lease can
    /// still be trusted, and distrust it once it cannot.
    public func failed(at now: Duration) -> Action {
        if now >= trustDeadline { return .distrust }
        return .renew(at: min(now + duration / 15, trustDeadline))
    }
}
