import ReconcileRuntime
import Synchronization

/// One quota per outside provider (Cloudflare: 1,200 requests per 5 minutes per token, and a
/// 429 blocks every call for 5 minutes): every call first takes a token, waiting for it. The
/// wait happens inside the reconcile, whose lease is renewed meanwhile, so a burst of work
/// (a `platform_paths` change reaching every tenant) drains at the provider's rate instead of
/// failing. On the real clock, whatever clock the reconcile pretends.
public final class ProviderRateLimiter: Sendable {
    private let bucket: Mutex<TokenBucket>
    private let start = ContinuousClock.now

    /// - Parameters:
    ///   - rate: calls per second. Default 3 (under Cloudflare's 4/s average, leaving room for DNS calls).
    ///   - burst: calls allowed at once. Default 20.
    public init(rate: Double = 3, burst: Int = 20) {
        bucket = Mutex(TokenBucket(rate: rate, burst: burst))
    }

    /// Takes a token, sleeping until it is due.
    public func acquire() async throws {
        let wait = bucket.withLock { $0.reserve(now: ContinuousClock.now - start) }
        if wait > .zero { try await Task.sleep(for: wait) }
    }
}
