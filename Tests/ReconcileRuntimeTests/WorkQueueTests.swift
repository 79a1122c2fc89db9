import ReconcileRuntime
import Testing

@Suite("work queue")
struct WorkQueueTests {
    @Test("a waiting worker is woken by an add; shutdown wakes idle workers with nothing")
    func waitersAndShutdown() async {
        let queue = WorkQueue<String>()
        async let taken = queue.get(max: 5)
        await Task.yield()
        queue.add("k")
        #expect(await taken == ["k"])
        queue.done("k")
        async let idle = queue.get(max: 1)
        await Task.yield()
        queue.shutDown()
        #expect(await idle == [])
    }

    @Test("a delayed key is handed out once its delay has passed")
    func delayedAdd() async {
        let queue = WorkQueue<String>()
        let delays = Task { await queue.runDelays() }
        queue.add("later", after: .milliseconds(30))
        queue.add("now")
        #expect(await queue.get(max: 5) == ["now"])
        #expect(await queue.get(max: 5) == ["later"])
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
        #expect(ContinuousClock.now - started < .seconds(5))
        queue.shutDown()
        await delays.value
    }
}
