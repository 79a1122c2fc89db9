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
}
