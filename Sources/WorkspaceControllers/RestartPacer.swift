import Foundation
import ReconcileRuntime
import Synchronization

/// Paces configuration restarts across all workspaces (seed 000: an org-wide secret change must
/// not restart a whole org at once): a token bucket over the reconcile clock, so tick mode can
/// step it.
public final class RestartPacer: Sendable {
    private let bucket: Mutex<TokenBucket>

    /// - Parameters:
    ///   - rate: restarts per second over the fleet. Default 0.2 (one every 5 s).
    ///   - burst: restarts allowed at once. Default 5.
    public init(rate: Double = 0.2, burst: Int = 5) {
        bucket = Mutex(TokenBucket(rate: rate, burst: burst))
    }

    /// Zero when a restart may happen now; otherwise how long to wait (nothing is taken then).
    func reserve(at now: Date) -> Duration {
        let time = Duration.seconds(now.timeIntervalSince1970)
        return bucket.withLock { bucket in
            var trial = bucket
            let wait = trial.reserve(now: time)
            if wait == .zero { bucket = trial }
            return wait
        }
    }
}
