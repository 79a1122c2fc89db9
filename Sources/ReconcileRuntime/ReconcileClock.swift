/// The runtime's monotonic clock, injected so tests can step time instead of sleeping. Times
/// are durations since the clock's own origin.
public protocol ReconcileClock: Sendable {
    var now: Duration { get }
    /// Returns at `deadline`, or throws `CancellationError` if the task is cancelled first.
    func sleep(until deadline: Duration) async throws
}

/// The system's continuous clock.
public struct SystemClock: ReconcileClock {
    private let clock = ContinuousClock()
    private let origin: ContinuousClock.Instant

    public init() {
        origin = clock.now
    }

    public var now: Duration { clock.now - origin }

    public func sleep(until deadline: Duration) async throws {
        try await clock.sleep(until: origin + deadline)
    }
}
