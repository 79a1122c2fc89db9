/// Cloudflare blocks every call of a token for a while once it is over its quota (HTTP 429:
/// 5 minutes, or what `Retry-After` says). The window during which this provider sends nothing
/// and answers "throttled" at once, so that a storm of work (a `platform_paths` change reaching
/// every tenant) does not keep the block alive. Pure: the caller passes the time.
struct ThrottleWindow: Sendable, Equatable {
    private(set) var until: ContinuousClock.Instant?

    /// How long calls must still wait at `now`; nil when they may go.
    func remaining(at now: ContinuousClock.Instant) -> Duration? {
        guard let until, until > now else { return nil }
        return until - now
    }

    /// Blocks every call for `wait` from `now`; a longer block already in force stays.
    mutating func block(for wait: Duration, at now: ContinuousClock.Instant) {
        let end = now + wait
        if until.map({ end > $0 }) ?? true { until = end }
    }
}
