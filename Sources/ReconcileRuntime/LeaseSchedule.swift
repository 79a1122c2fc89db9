/// Lease renewal arithmetic: when a holder renews, and whether a renewal came too late. Expiry
/// itself is always decided by the database clock; this only paces the holder.
public struct LeaseSchedule: Sendable, Equatable {
    public let duration: Duration

    public init(duration: Duration) {
        precondition(duration > .zero, "a lease needs a duration")
        self.duration = duration
    }

    /// Renew every third of the duration, so two renewals may fail before the lease lapses.
    public var renewInterval: Duration { duration / 3 }

    /// Whole seconds (at least 1) as the database wants them.
    public var durationSeconds: Double { max(0.001, duration.seconds) }
}
