import Foundation
import Logging
import Postgres
import ReconcileRuntime
import ReconcileStore
import Synchronization

/// One controller in the sidecar: a work queue fed by the watch and by resyncs, and workers
/// that take batches of keys from it.
///
/// - Every "look again" (a failure's retry, a watch, a key still converging) is persisted with
///   the key by the write-back; the in-memory delay queue is only the fast path. A due resync —
///   at start, after every listener reconnect, on a `*` notification and every
///   `dueResyncInterval` — reads the looks that come due within the next interval from the
///   table, so a key a dead replica meant to look at is picked up by any other.
/// - No key is dropped: a batch whose claim or write-back failed is queued again (this
///   replica's own leases are claimed back at once), and a resync that fails is retried until
///   it succeeds.
/// - A full resync re-examines every key, paced over `fullResyncInterval`, so drift in the
///   outside world is found.
public final class ControllerRunner: Sendable {
    public var name: String { processor.reconciler.name }
    let queue: WorkQueue<String>
    let processor: BatchProcessor
    private let store: ControllerStateStore
    private let logger: Logger
    private let enqueuedAt = Mutex<[String: Duration]>([:])
    private let resyncRequests: AsyncStream<Void>
    private let resyncRequested: AsyncStream<Void>.Continuation
    /// Batches being processed: their start and their key count (for the unfinished-work gauges).
    private let inFlight = Mutex<[UUID: (started: Duration, keys: Int)]>([:])
    /// When each key's result was last written by this replica, for `lookAgainAfterHistoryChange`
    /// (pruned to `recentWindow` at every due resync).
    private let recent = Mutex<[String: ContinuousClock.Instant]>([:])
    /// How far back "recently reconciled" goes.
    static let recentWindow: Duration = .seconds(300)

    init(
        controller: ReconcilerHost.Controller, pool: PostgresPool, holder: String, clock: any ReconcileClock = SystemClock(),
        logger: Logger
    ) {
        self.processor = BatchProcessor(controller: controller, pool: pool, holder: holder, clock: clock, logger: logger)
        self.queue = WorkQueue(clock: clock)
        self.store = processor.store
        self.logger = processor.logger
        (resyncRequests, resyncRequested) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    var options: ControllerOptions { processor.options }
    private var clock: any ReconcileClock { processor.clock }

    /// Queues a key (a notification's payload; the payload is never trusted beyond naming it).
    public func enqueue(_ key: String) {
        guard UUID(uuidString: key) != nil else {
            logger.warning("ignoring a notification that does not name a key", metadata: ["payload": "\(key.prefix(64))"])
            return
        }
        enqueuedAt.withLock { if $0[key] == nil { $0[key] = clock.now } }
        processor.metrics.adds.increment()
        queue.add(key)
        processor.metrics.depth.record(queue.depth)
    }

    /// Asks for a due resync; requests made while one runs are folded into the next.
    public func requestResync() {
        resyncRequested.yield()
    }

    /// Workers, delays and resyncs until `shutDown()`; then drains in-flight batches.
    func run() async {
        await withTaskGroup(of: Void.self) { background in
            background.addTask { await self.queue.runDelays() }
            background.addTask { await self.resyncWhenRequested() }
            background.addTask { await self.periodically(self.options.dueResyncInterval) { self.requestResync() } }
            background.addTask { await self.periodically(.seconds(1)) { self.recordUnfinishedWork() } }
            background.addTask {
                await self.refreshKeyGauges()
                await self.periodically(self.options.keyGaugeInterval) { await self.refreshKeyGauges() }
            }
            background.addTask {
                // Like an informer's initial list: every key is looked at once at start, so drift
                // that happened while no reconciler ran (a dead instance) is found at once.
                if self.options.fullResyncAtStart { await self.fullResync() }
                await self.periodically(self.options.fullResyncInterval) { await self.fullResync() }
            }
            // Workers return once the queue is shut down and their current batch is written.
            await withTaskGroup(of: Void.self) { workers in
                for _ in 0..<max(1, options.workers) {
                    workers.addTask { await self.work() }
                }
            }
            resyncRequested.finish()
            background.cancelAll()
        }
    }

    /// Stops handing out work; workers finish their current batch and return.
    func shutDown() {
        queue.shutDown()
    }

    private func work() async {
        while true {
            let keys = await queue.get(max: options.batchSize)
            if keys.isEmpty { return }
            if queue.isShuttingDown {
                for key in keys { queue.done(key) }
                return
            }
            processor.metrics.depth.record(queue.depth)
            let started = clock.now
            let waited = enqueuedAt.withLock { times in keys.compactMap { times.removeValue(forKey: $0) } }
            for time in waited { processor.metrics.queueDuration.recordNanoseconds((started - time).nanoseconds) }
            let batch = UUID()
            inFlight.withLock { $0[batch] = (started, keys.count) }
            let report = await processor.process(keys: keys, now: nil, actions: ActionLog())
            inFlight.withLock { $0[batch] = nil }
            processor.metrics.workDuration.recordNanoseconds((clock.now - started).nanoseconds)
            settle(keys, report)
        }
    }

    /// Gives each key of a batch back to the queue, scheduling what must run again. The
    /// schedule is also in the table; this is the fast path.
    private func settle(_ keys: [String], _ report: BatchProcessor.Report) {
        for key in keys { queue.done(key) }
        if report.error == nil, !report.outcomes.isEmpty {
            let now = ContinuousClock.now
            recent.withLock { recent in
                for (key, _, _) in report.outcomes where !report.lost.contains(key) { recent[key] = now }
            }
        }
        if let error = report.error {
            // A deadlock or serialization failure lost only its turn: again at once. Anything
            // else (the database away) after a second.
            let transient =
                (error as? PostgresError).map { $0.code == .deadlockDetected || $0.code == .serializationFailure } ?? false
            for key in keys { transient ? queue.add(key) : queue.add(key, after: .seconds(1)) }
            return
        }
        // A live holder writes its result and looks again itself; a dead one (`kill -9`) keeps
        // the key until its lease expires: look again then, not at the next due resync.
        for (key, wait) in report.heldElsewhere where wait <= options.dueResyncInterval.seconds {
            queue.add(key, after: .seconds(wait + 0.1))
        }
        for (key, outcome, next) in report.outcomes where !report.lost.contains(key) {
            if case .watch(let after) = outcome {
                queue.add(key, after: after)
                continue
            }
            switch next {
            case .look(let seconds), .retry(let seconds):
                // Later looks are read back by a due resync when they come near.
                if seconds <= options.dueResyncInterval.seconds { queue.add(key, after: .seconds(seconds)) }
            case .none, .never:
                break
            }
        }
    }

    /// client-go's `unfinished_work_seconds` (work in progress, summed over in-flight keys) and
    /// `longest_running_processor_seconds`.
    private func recordUnfinishedWork() {
        let now = clock.now
        let batches = inFlight.withLock { Array($0.values) }
        let unfinished = batches.reduce(0.0) { $0 + Double($1.keys) * (now - $1.started).seconds }
        let longest = batches.map { (now - $0.started).seconds }.max() ?? 0
        processor.metrics.unfinishedWork.record(unfinished)
        processor.metrics.longestRunning.record(longest)
    }

    /// The failing-keys and due-keys gauges, from the table; left as they were when it cannot
    /// be read (the database errors counter and `molecule_database_up` say why).
    private func refreshKeyGauges() async {
        do {
            let counts = try await store.selectKeyGauges()
            processor.metrics.failingKeys.record(counts.failing)
            processor.metrics.dueKeys.record(counts.due)
        } catch {
            logger.debug("reading the key gauges failed", metadata: ["error": "\(error)"])
        }
    }

    /// Runs a due resync for every request, retrying a failed one until it succeeds.
    private func resyncWhenRequested() async {
        for await _ in resyncRequests {
            var wait = Duration.milliseconds(250)
            while !queue.isShuttingDown {
                do {
                    try await resyncDue()
                    break
                } catch {
                    logger.error("due resync failed; retrying", metadata: ["error": "\(error)", "retry_in_s": "\(wait.seconds)"])
                    do { try await clock.sleep(until: clock.now + wait) } catch { return }
                    wait = min(wait * 2, .seconds(5))
                }
            }
        }
    }

    /// Queues every key that is due now, and schedules those whose look comes within the next
    /// resync interval.
    private func resyncDue() async throws {
        let horizon = ContinuousClock.now - Self.recentWindow
        recent.withLock { $0 = $0.filter { $0.value > horizon } }
        for item in try await store.selectPending(within: options.dueResyncInterval.seconds * 1.5) {
            if item.isDue {
                enqueue(item.key)
            } else {
                queue.add(item.key, after: .seconds(item.waitSeconds))
            }
        }
    }

    /// After a reconnect landed on another server history: the keys this replica reconciled in
    /// the last `recentWindow` first (newest first: the likeliest to have acted on writes the new
    /// server never got), then every key at once, unpaced. Each reconcile compares the provider's
    /// world with the rows, as the periodic full resync's do. The full pass is retried until it
    /// succeeds (250 ms doubling to 5 s): right after a failover the pool still holds sessions on
    /// the old server, each failing once, and the next periodic pass is minutes away.
    public func lookAgainAfterHistoryChange() async {
        let horizon = ContinuousClock.now - Self.recentWindow
        let recentKeys = recent.withLock { recent in
            recent.filter { $0.value > horizon }.sorted { $0.value > $1.value }.map(\.key)
        }
        recentKeys.forEach(enqueue)
        var wait = Duration.milliseconds(250)
        while !queue.isShuttingDown, !(await fullResync(paced: false)) {
            do { try await clock.sleep(until: clock.now + wait) } catch { return }
            wait = min(wait * 2, .seconds(5))
        }
    }

    /// Re-examines every key, one page at a time, spreading the pages over half the interval
    /// (or all at once, unpaced). Returns false when reading the keys failed.
    @discardableResult
    private func fullResync(paced: Bool = true) async -> Bool {
        let pageSize = 500
        do {
            let counts = try await store.selectCounts()
            let pages = max(1, (counts.total + pageSize - 1) / pageSize)
            let pause = options.fullResyncInterval / 2 / pages
            var after: String?
            while !queue.isShuttingDown {
                let keys = try await store.selectKeys(after: after, limit: pageSize)
                guard let last = keys.last else { break }
                keys.forEach(enqueue)
                after = last
                if paced { try await clock.sleep(until: clock.now + pause) }
            }
        } catch is CancellationError {
            return true
        } catch {
            logger.error(
                paced ? "full resync failed; tried again at the next interval" : "full resync failed; retrying",
                metadata: ["error": "\(error)"])
            return false
        }
        return true
    }

    private func periodically(_ interval: Duration, _ body: @Sendable () async -> Void) async {
        while !queue.isShuttingDown {
            do { try await clock.sleep(until: clock.now + interval) } catch { return }
            await body()
        }
    }
}
