import Foundation
import Logging
import Postgres
import ReconcileRuntime
import ReconcileStore
import Synchronization

/// One controller in the sidecar: a work queue fed by the watch and by resyncs, and workers
/// that take batches of keys from it.
///
/// - A failed key is retried after its persisted backoff (in memory at once, and from the
///   table after a restart, by the due resync).
/// - A due resync runs on start, after every listener reconnect, on a `*` notification, and
///   every `dueResyncInterval`; a full resync re-examines every key, paced over
///   `fullResyncInterval`, so drift in the outside world is found.
public final class ControllerRunner: Sendable {
    public var name: String { processor.reconciler.name }
    let queue = WorkQueue<String>()
    let processor: BatchProcessor
    private let store: ControllerStateStore
    private let logger: Logger
    private let enqueuedAt = Mutex<[String: ContinuousClock.Instant]>([:])

    init(reconciler: any Reconciler, pool: PostgresPool, options: ControllerOptions, holder: String, logger: Logger) {
        self.processor = BatchProcessor(reconciler: reconciler, pool: pool, options: options, holder: holder, logger: logger)
        self.store = processor.store
        self.logger = processor.logger
    }

    var options: ControllerOptions { processor.options }

    /// Queues a key (a notification's payload; the payload is never trusted beyond naming it).
    public func enqueue(_ key: String) {
        guard UUID(uuidString: key) != nil else {
            logger.warning("ignoring a notification that does not name a key", metadata: ["payload": "\(key.prefix(64))"])
            return
        }
        enqueuedAt.withLock { if $0[key] == nil { $0[key] = .now } }
        processor.metrics.adds.increment()
        queue.add(key)
        processor.metrics.depth.record(queue.depth)
    }

    /// Queues every key that is due now, and schedules those waiting out a retry time.
    public func resyncDue() async {
        do {
            for item in try await store.selectPending() {
                if item.isDue {
                    enqueue(item.key)
                } else {
                    queue.add(item.key, after: .seconds(item.waitSeconds))
                }
            }
        } catch {
            logger.error("due resync failed", metadata: ["error": "\(error)"])
        }
    }

    /// Workers, delays and periodic resyncs until `shutDown()`; then drains in-flight batches.
    func run() async {
        await withTaskGroup(of: Void.self) { background in
            background.addTask { await self.queue.runDelays() }
            background.addTask { await self.periodically(self.options.dueResyncInterval) { await self.resyncDue() } }
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
            let started = ContinuousClock.now
            let waited = enqueuedAt.withLock { times in keys.compactMap { times.removeValue(forKey: $0) } }
            for time in waited { processor.metrics.queueDuration.recordNanoseconds((started - time).nanoseconds) }
            let report = await processor.process(keys: keys, now: nil, actions: ActionLog())
            processor.metrics.workDuration.recordNanoseconds((ContinuousClock.now - started).nanoseconds)
            settle(keys, report)
        }
    }

    /// Gives each key of a batch back to the queue, scheduling what must run again.
    private func settle(_ keys: [String], _ report: BatchProcessor.Report) {
        if report.databaseError != nil {
            for key in keys {
                queue.done(key)
                queue.add(key, after: .seconds(1))
            }
            return
        }
        for key in keys { queue.done(key) }
        for (key, outcome, delay) in report.outcomes where !report.lost.contains(key) {
            switch outcome {
            case .requeueAfter(let after): queue.add(key, after: after)
            case .retry: queue.add(key, after: delay ?? .seconds(1))
            case .done, .terminal: break
            }
        }
    }

    /// Re-examines every key, one page at a time, spreading the pages over half the interval.
    private func fullResync() async {
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
                try await Task.sleep(for: pause)
            }
        } catch is CancellationError {
            return
        } catch {
            logger.error("full resync failed", metadata: ["error": "\(error)"])
        }
    }

    private func periodically(_ interval: Duration, _ body: @Sendable () async -> Void) async {
        while !queue.isShuttingDown {
            do { try await Task.sleep(for: interval) } catch { return }
            await body()
        }
    }
}
