/// An overall token bucket, after client-go's `BucketRateLimiter` (golang.org/x/time/rate):
/// `rate` tokens per second, at most `burst` saved up. Pure: the caller passes the time.
public struct TokenBucket: Sendable, Equatable {
    /// Tokens per second. Default 10.
    public let rate: Double
    /// Bucket size. Default 100.
    public let burst: Int
    private var tokens: Double
    private var last: Duration?

    public init(rate: Double = 10, burst: Int = 100) {
        precondition(rate > 0 && burst > 0, "invalid token bucket")
        self.rate = rate
        self.burst = burst
        self.tokens = Double(burst)
    }

    /// Takes one token and returns how long the caller must wait before using it (zero when a
    /// token was available). Tokens may be reserved into the future, as `rate.Limiter.Reserve`.
    public mutating func reserve(now: Duration) -> Duration {
        if let last {
            let elapsed = Swift.max(0, (now - last).seconds)
            tokens = Swift.min(Double(burst), tokens + elapsed * rate)
        }
        last = now
        tokens -= 1
        return tokens >= 0 ? .zero : .seconds(-tokens / rate)
    }
}
