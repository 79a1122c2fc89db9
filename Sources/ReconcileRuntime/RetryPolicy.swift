/// How long a failed key waits before its next attempt: the larger of its own exponential
/// backoff, the controller's overall token bucket, and any retry-after the provider asked for
/// (client-go's `MaxOfRateLimiter` over per-item and bucket limiters).
public struct RetryPolicy: Sendable {
    public var backoff: ExponentialBackoff
    private var bucket: TokenBucket

    public init(backoff: ExponentialBackoff, bucket: TokenBucket) {
        self.backoff = backoff
        self.bucket = bucket
    }

    public mutating func delay(
        afterFailures failures: Int, retryAfter: Duration?, now: Duration,
        random: Double
    ) -> Duration {
        let own = backoff.delay(afterFailures: failures, random: random)
        let overall = bucket.reserve(now: now)
        return max(own, overall, retryAfter ?? .zero)
    }
}
