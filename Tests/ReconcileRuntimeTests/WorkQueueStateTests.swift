import ReconcileRuntime
import Testing

@Suite("work queue state machine")
struct WorkQueueStateTests {
    enum Step {
        case add(String, queued: Bool)
        case take(max: Int, expect: [String])
        case done(String, requeued: Bool)
        case shutDown
        case depth(Int)
    }

    static let scenarios: [(String, [Step])] = [
        (
            "a key is queued at most once",
            [
                .add("a", queued: true), .add("a", queued: false), .add("b", queued: true), .depth(2),
                .take(max: 10, expect: ["a", "b"]), .depth(0),
            ]
        ),
        (
            "keys come out in order, in batches",
            [
                .add("a", queued: true), .add("b", queued: true), .add("c", queued: true),
                .take(max: 2, expect: ["a", "b"]), .take(max: 2, expect: ["c"]), .take(max: 2, expect: []),
            ]
        ),
        (
            "a key being processed is not handed out again",
            [
                .add("a", queued: true), .take(max: 1, expect: ["a"]),
                .add("a", queued: false), .take(max: 1, expect: []), .depth(0),
            ]
        ),
        (
            "a re-add while processing runs again after done",
            [
                .add("a", queued: true), .take(max: 1, expect: ["a"]), .add("a", queued: false),
                .done("a", requeued: true), .take(max: 1, expect: ["a"]), .done("a", requeued: false),
                .take(max: 1, expect: []),
            ]
        ),
        (
            "done without a re-add forgets the key",
            [
                .add("a", queued: true), .take(max: 1, expect: ["a"]), .done("a", requeued: false),
                .add("a", queued: true), .take(max: 1, expect: ["a"]),
            ]
        ),
        (
            "shutdown refuses new keys but drains queued ones",
            [
                .add("a", queued: true), .shutDown, .add("b", queued: false), .take(max: 5, expect: ["a"]),
            ]
        ),
    ]

    @Test("client-go guarantees", arguments: scenarios.map(\.0))
    func scenario(_ name: String) {
        let steps = Self.scenarios.first { $0.0 == name }!.1
        var state = WorkQueueState<String>()
        for step in steps {
            switch step {
            case .add(let key, let queued): #expect(state.add(key) == queued, "add \(key)")
            case .take(let max, let expected): #expect(state.take(max: max) == expected)
            case .done(let key, let requeued): #expect(state.done(key) == requeued, "done \(key)")
            case .shutDown: state.shutDown()
            case .depth(let depth): #expect(state.depth == depth)
            }
        }
    }

    @Test("a long queue compacts without losing order")
    func compaction() {
        var state = WorkQueueState<Int>()
        for i in 0..<5_000 { state.add(i) }
        var out: [Int] = []
        while case let batch = state.take(max: 7), !batch.isEmpty { out += batch }
        #expect(out == Array(0..<5_000))
    }
}

@Suite("delay queue")
struct DelayQueueTests {
    @Test("keys become ready at their time, earliest first, keeping the earlier of two times")
    func readiness() {
        var delays = DelayQueue<String>()
        let r1 = delays.add("late", readyAt: .seconds(10))
        #expect(r1)
        let r2 = delays.add("early", readyAt: .seconds(2))
        #expect(r2)
        let r3 = delays.add("early", readyAt: .seconds(5))
        #expect(!r3)
        let r4 = delays.add("late", readyAt: .seconds(4))
        #expect(r4)
        #expect(delays.nextReadyAt == .seconds(2))
        let r5 = delays.popReady(now: .seconds(1))
        #expect(r5 == [])
        let r6 = delays.popReady(now: .seconds(4))
        #expect(r6 == ["early", "late"])
        #expect(delays.count == 0)
        #expect(delays.nextReadyAt == nil)
    }

    @Test("against a model of its contract, over random adds and pops of a few keys (keys moved earlier, taken, added again)")
    func matchesModel() {
        var generator = SplitMix64(seed: 42)
        var delays = DelayQueue<Int>()
        var model: [Int: Duration] = [:]
        var now = Duration.zero
        for _ in 0..<20_000 {
            if generator.next() % 3 == 0 {
                now += .milliseconds(Int64(generator.next() % 50))
                let expected = model.filter { $0.value <= now }.sorted { ($0.value, $0.key) < ($1.value, $1.key) }
                let popped = delays.popReady(now: now)
                // Keys ready at the same instant may come in either order; times must not go back.
                #expect(Set(popped) == Set(expected.map(\.key)))
                #expect(popped.map { model[$0]! } == expected.map(\.value))
                for key in popped { model.removeValue(forKey: key) }
            } else {
                let key = Int(generator.next() % 40)
                let time = now + .milliseconds(Int64(generator.next() % 500))
                let moved = delays.add(key, readyAt: time)
                #expect(moved == (model[key].map { time < $0 } ?? true))
                if moved { model[key] = time }
            }
            #expect(delays.count == model.count)
            #expect(delays.nextReadyAt == model.values.min())
        }
    }

    @Test("a fleet's worth of waiting keys, taken a few at a time, all come out once and in order")
    func manyKeys() {
        var delays = DelayQueue<Int>()
        let keys = 100_000
        // Jittered looks, like a fleet that converged at once.
        for key in 0..<keys { delays.add(key, readyAt: .milliseconds(Int64((key * 7_919) % keys))) }
        var taken: [Int] = []
        var now = Duration.zero
        while delays.count > 0 {
            now = delays.nextReadyAt!
            taken += delays.popReady(now: now)
        }
        #expect(taken.count == keys)
        #expect(Set(taken).count == keys)
        #expect(taken.map { (($0 * 7_919) % keys) } == Array(0..<keys))
    }
}

/// A small deterministic generator, so a failing sequence is the same on every run.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
