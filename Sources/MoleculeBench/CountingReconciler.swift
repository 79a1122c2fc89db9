import Foundation
import ReconcileRuntime
import Synchronization

/// A no-op controller on the `instances` table that counts reconciles and can tell when a
/// given key's reconcile starts.
final class CountingReconciler: Reconciler {
    let name = "instances"
    private struct State {
        var count = 0
        var countWaiters: [(Int, CheckedContinuation<Void, Never>)] = []
        var keyWaiters: [String: CheckedContinuation<ContinuousClock.Instant, Never>] = [:]
    }
    private let state = Mutex(State())

    var count: Int { state.withLock { $0.count } }

    func reconcile(_ request: ReconcileRequest) async throws -> ReconcileResult {
        let now = ContinuousClock.now
        let (ready, keyWaiter) = state.withLock { state in
            state.count += 1
            let count = state.count
            let ready = state.countWaiters.filter { $0.0 <= count }.map(\.1)
            state.countWaiters.removeAll { $0.0 <= count }
            return (ready, state.keyWaiters.removeValue(forKey: request.key))
        }
        ready.forEach { $0.resume() }
        keyWaiter?.resume(returning: now)
        return ReconcileResult(.done)
    }

    func wait(untilCount target: Int) async {
        await withCheckedContinuation { continuation in
            let done = state.withLock { state in
                if state.count >= target { return true }
                state.countWaiters.append((target, continuation))
                return false
            }
            if done { continuation.resume() }
        }
    }

    /// A task that finishes with the instant `key`'s next reconcile starts. Call before the write.
    func expect(_ key: String) -> Task<ContinuousClock.Instant, Never> {
        let registered = Mutex(false)
        let task = Task {
            await withCheckedContinuation { continuation in
                state.withLock { $0.keyWaiters[key] = continuation }
                registered.withLock { $0 = true }
            }
        }
        while !registered.withLock({ $0 }) { usleep(10) }
        return task
    }
}
