import ReconcileRuntime
import Testing

@Suite("work queue")
struct WorkQueueTests {
    /// Waits (by yielding, never by sleeping) until `condition` holds.
    static func until(_ condition: () -> Bool) async {
        while !condition() { await Task.yield() }
    }

    @Test("a waiting worker is woken by an add; shutdown wakes idle workers with nothing", .timeLimit(.minutes(1)))
    func waitersAndShutdown() async {
        let queue = WorkQueue<String>()
        async let taken = queue.get(max: 5)
        // The worker is really waiting before the add: the waiter path, not the queued path.
        await Self.until { queue.idleWorkers == 1 }
        queue.add("k")
        #expect(await taken == ["k"])
        #expect(queue.idleWorkers == 0)
        queue.done("k")
        async let idle = queue.get(max: 1)
        await Self.until { queue.idleWorkers == 1 }
        queue.shutDown()
        #expect(await idle == [])
    }

    @Test("a delayed key is handed out once its delay has passed on the injected clock, not before", .timeLimit(.minutes(1)))
    func delayedAdd() async {
        let clock = ManualClock()
        let queue = WorkQueue<String>(clock: clock)
        let delays = Task { await queue.runDelays() }
        queue.add("later", after: .seconds(30))
        queue.add("now")
        #expect(await queue.get(max: 5) == ["now"])
        queue.done("now")
        await Self.until { clock.sleeping == 1 }
        clock.advance(by: .seconds(29))
        async let later = queue.get(max: 5)
        await Self.until { queue.idleWorkers == 1 }
        #expect(queue.depth == 0, "handed out before its time")
        clock.advance(by: .seconds(1))
        #expect(await later == ["later"])
        queue.shutDown()
        await delays.value
    }

    @Test("a delayed add wakes a delay loop that is already idle", .timeLimit(.minutes(1)))
    func delayedAddWakesIdleLoop() async throws {
        let queue = WorkQueue<String>()
        let delays = Task { await queue.runDelays() }
        // Let the loop go idle (nothing delayed: it sleeps without a target).
        try await Task.sleep(for: .milliseconds(50))
        let started = ContinuousClock.now
        queue.add("later", after: .milliseconds(20))
        #expect(await queue.get(max: 1) == ["later"])
        // Not woken, the loop would sleep until the time limit; woken, it hands the key out at
        // once (seconds only on a machine loaded by a parallel test run).
        #expect(ContinuousClock.now - started < .seconds(30))
        queue.shutDown()
        await delays.value
    }
}
