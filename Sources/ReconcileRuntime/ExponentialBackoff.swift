/// Per-key exponential backoff with jitter, after client-go's
/// `ItemExponentialFailureRateLimiter`. Configured per controller: a controller that calls
/// external APIs wants seconds to minutes, not milliseconds.
public struct ExponentialBackoff: Sendable, Equatable {
    /// Delay after the first failure. Default 1 s.
    public var base: Duration
    /// Upper bound of any delay. Default 5 min.
    public var cap: Duration
    /// Extra random share added to each delay, 0...1 (0.2 = up to +20 %). Default 0.2.
    public var jitter: Double

    public init(base: Duration = .seconds(1), cap: Duration = .seconds(300), jitter: Double = 0.2) {
        precondition(base > .zero && cap >= base && (0...1).contains(jitter), "invalid backoff")
        self.base = base
        self.cap = cap
        self.jitter = jitter
    }

    /// The delay before the next attempt after `failures` consecutive failures (≥ 1).
    /// `random` is in 0..<1 (injected so that tests are exact).
    public func delay(afterFailures failures: Int, random: Double) -> Duration {
        let exponent = Swift.max(0, Swift.min(failures - 1, 62))
        let capSeconds = cap.seconds
        let raw = Swift.min(base.seconds * pow2(exponent), capSeconds)
        let jittered = Swift.min(raw * (1 + jitter * random), capSeconds)
        return .seconds(jittered)
    }

    private func pow2(_ n: Int) -> Double {
        var value = 1.0
        for _ in 0..<n { value *= 2 }
        return value
    }
}

extension Duration {
    /// The duration in seconds, as a Double.
    public var seconds: Double {
        let (whole, attos) = components
        return Double(whole) + Double(attos) / 1e18
    }
}
