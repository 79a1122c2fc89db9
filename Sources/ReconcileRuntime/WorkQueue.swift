import Synchronization

/// The concurrent work queue: a `WorkQueueState` and a `DelayQueue` behind one mutex, with
/// workers that wait for keys. See `WorkQueueState` for the guarantees.
///
/// Delayed keys move to the queue when `runDelays()` — run by the owner as a long-lived task —
/// sees their time come.
public final class WorkQueue<Key: Hashable & Sendable>: Sendable {
    private struct Waiter {
        let max: Int
        let continuation: CheckedContinuation<[Key], Never>
    }

    private struct State {
        var core = WorkQueueState<Key>()
        var delays = DelayQueue<Key>()
        /// Invariant: only non-empty while `core.depth == 0`.
        var waiters: [Waiter] = []
        /// The delay loop's current sleep; cancelled to wake it early.
        var sleeper: Task<Void, Never>?
        var sleepingUntil: Duration?
    }

    private let state = Mutex(State())
    private let clock: any ReconcileClock

    public init(clock: any ReconcileClock = SystemClock()) {
        self.clock = clock
    }

    public var depth: Int { state.withLock { $0.core.depth } }
    /// Workers waiting for a key (the queue is empty).
    public var idleWorkers: Int { state.withLock { $0.waiters.count } }
    public var isShuttingDown: Bool { state.withLock { $0.core.isShuttingDown } }

    public func add(_ key: Key) {
        let resume: (() -> Void)? = state.withLock { state in
            guard state.core.add(key) else { return nil }
            return Self.serveWaiter(&state)
        }
        resume?()
    }

    /// Adds `key` after `delay`; keeps the earlier time if it already waits.
    public func add(_ key: Key, after delay: Duration) {
        guard delay > .zero else { return add(key) }
        let readyAt = now + delay
        state.withLock { state in
            guard !state.core.isShuttingDown, state.delays.add(key, readyAt: readyAt) else { return }
            // Wake the delay loop when this key is due before whatever it sleeps for (an idle
            // loop, with nothing delayed, sleeps with no target at all).
            if state.sleepingUntil.map({ readyAt < $0 }) ?? true { state.sleeper?.cancel() }
        }
    }

    /// Waits for up to `max` keys. Returns an empty array once the queue is shut down and drained.
    public func get(max: Int) async -> [Key] {
        await withCheckedContinuation { continuation in
            let keys: [Key]? = state.withLock { state in
                let keys = state.core.take(max: max)
                if !keys.isEmpty || state.core.isShuttingDown { return keys }
                state.waiters.append(Waiter(max: max, continuation: continuation))
                return nil
            }
            if let keys { continuation.resume(returning: keys) }
        }
    }

    public func done(_ key: Key) {
        let resume: (() -> Void)? = state.withLock { state in
            guard state.core.done(key) else { return nil }
            return Self.serveWaiter(&state)
        }
        resume?()
    }

    /// Stops accepting keys and wakes idle workers; queued keys are still handed out.
    public func shutDown() {
        let (waiters, sleeper) = state.withLock { state in
            state.core.shutDown()
            defer { state.waiters = [] }
            return (state.waiters, state.sleeper)
        }
        sleeper?.cancel()
        for waiter in waiters { waiter.continuation.resume(returning: []) }
    }

    /// Moves delayed keys to the queue as their time comes, until shutdown.
    public func runDelays() async {
        while !isShuttingDown {
            let ready = state.withLock { $0.delays.popReady(now: now) }
            for key in ready { add(key) }
            let sleeper: Task<Void, Never> = state.withLock { state in
                let until = state.delays.nextReadyAt
                let deadline = until ?? now + .seconds(3600)
                let sleeper = Task { [clock] in
                    _ = try? await clock.sleep(until: deadline)
                }
                state.sleeper = sleeper
                state.sleepingUntil = until
                return sleeper
            }
            await withTaskCancellationHandler {
                await sleeper.value
            } onCancel: {
                sleeper.cancel()
            }
            if Task.isCancelled { return }
        }
    }

    private var now: Duration { clock.now }

    /// Hands queued keys to the first waiter; returns the resumption to run outside the lock.
    private static func serveWaiter(_ state: inout State) -> (() -> Void)? {
        guard !state.waiters.isEmpty else { return nil }
        let waiter = state.waiters.removeFirst()
        let keys = state.core.take(max: waiter.max)
        return { waiter.continuation.resume(returning: keys) }
    }
}
