import Foundation
import ReconcileRuntime
import Synchronization

/// Paces configuration restarts across all workspaces (seed 000: an org-wide secret change must
/// not restart a whole org at once): a token bucket over the reconcile clock, so tick mode can
/// step it. A workspace that must wait is given its own future slot (the token is reserved for
/// it), and its persisted next look is that slot: a burst of thousands is restarted one slot
/// after the other, not woken all together every time a token comes free.
public final class RestartPacer: Sendable {
    private struct State {
        var bucket: TokenBucket
        /// Workspace -> the time its reserved restart may happen.
        var slots: [String: Duration] = [:]
    }

    private let state: Mutex<State>

    /// - Parameters:
    ///   - rate: restarts per second over the fleet. Default 0.2 (one every 5 s).
    ///   - burst: restarts allowed at once. Default 5.
    public init(rate: Double = 0.2, burst: Int = 5) {
        state = Mutex(State(bucket: TokenBucket(rate: rate, burst: burst)))
    }

    /// Zero when `workspace` may restart now; otherwise how long until its slot.
    func reserve(for workspace: String, at now: Date) -> Duration {
        let time = Duration.seconds(now.timeIntervalSince1970)
        return state.withLock { state in
            if let slot = state.slots[workspace] {
                guard slot <= time else { return slot - time }
                state.slots[workspace] = nil
                return .zero
            }
            let wait = state.bucket.reserve(now: time)
            guard wait > .zero else { return .zero }
            // Slots of workspaces that never came back (their decision changed) are forgotten.
            if state.slots.count > 10_000 { state.slots = state.slots.filter { $0.value > time } }
            state.slots[workspace] = time + wait
            return wait
        }
    }
}
