import Foundation
import Logging
import Postgres
import ReconcileRuntime
import ReconcileStore
import Synchronization

/// Runs one batch of keys through a reconciler: claim their leases and read their
/// generations (one statement), reconcile them concurrently while renewing the leases, and
/// write every result back while releasing the leases (one statement, fenced). Shared by the
/// sidecar's workers and by tick mode.
final class BatchProcessor: Sendable {
    struct Report: Sendable {
        /// Keys claimed, with their outcome (a key whose lease was lost is also in `lost`).
        var outcomes: [(key: String, outcome: ReconcileOutcome, next: StatusWrite.Next)] = []
        /// Keys not claimed: held elsewhere or waiting out a retry time.
        var skipped: [String] = []
        /// Of those, keys another holder's lease keeps, with the seconds until it expires.
        var heldElsewhere: [String: Double] = [:]
        /// Keys whose lease was taken over before the write-back; their results were dropped.
        var lost: Set<String> = []
        /// Keys whose rows changed.
        var written: Set<String> = []
        /// The error that stopped the batch before or at its write-back (a database error, or a
        /// cancellation at shutdown): the keys must be tried again.
        var error: (any Error)?
    }

    let reconciler: any Reconciler
    let store: ControllerStateStore
    let leases: LeaseStore
    let options: ControllerOptions
    let holder: String
    let metrics: ControllerMetrics
    let logger: Logger
    let clock: any ReconcileClock
    let retryPolicy: Mutex<RetryPolicy>
    /// Names the keys of failed reconciles in their log lines (none: the key alone).
    let subjects: (any KeySubjects)?
    /// The server history the pool's sessions see; its changes start a `HistoryRepair`.
    let history: ServerHistoryWatch
    let repair = Mutex(HistoryRepair())

    init(
        controller: ReconcilerHost.Controller, pool: PostgresPool, holder: String, clock: any ReconcileClock = SystemClock(),
        logger: Logger
    ) {
        self.reconciler = controller.reconciler
        self.store = ControllerStateStore(
            table: ControllerTable(controller.reconciler.name), statusColumns: controller.statusColumns,
            pool: pool)
        self.leases = LeaseStore(pool: pool)
        self.history = pool.history
        self.options = controller.options
        self.subjects = controller.subjects
        self.holder = holder
        self.clock = clock
        self.metrics = ControllerMetrics(controller: controller.reconciler.name, workers: controller.options.workers)
        var logger = logger
        logger[metadataKey: LogKey.controller] = "\(controller.reconciler.name)"
        self.logger = logger
        self.retryPolicy = Mutex(
            RetryPolicy(
                backoff: controller.options.backoff,
                bucket: TokenBucket(rate: controller.options.retryRate, burst: controller.options.retryBurst)))
    }

    func process(keys: [String], now: Date?, actions: ActionLog) async -> Report {
        var report = Report()
        let claimedAt = clock.now
        let claimed: [ControllerStateStore.Claimed]
        do {
            claimed = try await store.claim(keys: keys, holder: holder, leaseSeconds: options.leaseDuration.seconds, now: now)
        } catch {
            report.error = error
            logger.error("claiming leases failed", metadata: ["error": "\(error)"])
            return report
        }
        metrics.leaseAcquisitions.increment(by: claimed.count)
        metrics.leaseTakeovers.increment(by: claimed.filter(\.tookOver).count)
        let claimedKeys = Set(claimed.map(\.key))
        report.skipped = keys.filter { !claimedKeys.contains($0) }
        metrics.leaseContended.increment(by: report.skipped.count)
        report.heldElsewhere = await heldElsewhere(report.skipped, now: now)
        guard !claimed.isEmpty else { return report }

        let trusts = claimed.map { _ in LeaseTrust() }
        let renewal = LeaseRenewal(duration: options.leaseDuration, claimedAt: claimedAt)
        let ids = claimed.map { _ in UUID().uuidString.lowercased() }
        let change = history.lastChange
        let watched = repair.withLock { $0.watched(claimed, change: change) }
        let results = await withRenewedLeases(claimed, trusts: trusts, renewal: renewal, now: now) {
            await self.reconcileAll(
                claimed, ids: ids, trusts: trusts, now: now, actions: actions, watched: watched, change: change)
        }
        await logFailures(claimed, ids: ids, results: results)
        let writes = zip(claimed, results).map { statusWrite(for: $0, result: $1) }
        do {
            let result = try await store.writeBack(writes.map(\.write), holder: holder, now: now)
            report.written = result.written
            report.lost = claimedKeys.subtracting(result.fenced)
            repair.withLock { $0.written(watched.intersection(result.fenced)) }
        } catch {
            // The leases are still ours: the keys are claimed again at once by this replica.
            report.error = error
            logger.error("writing results failed; the keys are tried again", metadata: ["error": "\(error)"])
        }
        for key in report.lost {
            metrics.leaseLosses.increment()
            logger.warning("lease lost before the write-back; the result was dropped", metadata: [LogKey.key: "\(key)"])
        }
        report.outcomes = zip(claimed, writes).map { ($0.key, $1.outcome, $1.write.next) }
        for (key, outcome, _) in report.outcomes {
            count(outcome, recorded: report.error == nil && !report.lost.contains(key))
        }
        return report
    }

    /// How long other holders keep these keys' leases. Nothing when that cannot be read: the
    /// due resync finds the keys anyway, only later.
    private func heldElsewhere(_ keys: [String], now: Date?) async -> [String: Double] {
        guard !keys.isEmpty else { return [:] }
        do {
            return try await leases.selectHeldElsewhere(controller: reconciler.name, keys: keys, holder: holder, now: now)
        } catch {
            logger.warning("reading the leases held elsewhere failed", metadata: ["error": "\(error)"])
            return [:]
        }
    }

    /// Reconciles the claimed keys concurrently. A watched key (`HistoryRepair`) gets an action
    /// log of its own, and the `DatabaseWentBack` event when its reconcile changed the world.
    private func reconcileAll(
        _ claimed: [ControllerStateStore.Claimed], ids: [String], trusts: [LeaseTrust], now: Date?,
        actions: ActionLog, watched: Set<String>, change: ServerHistoryWatch.Change?
    ) async -> [ReconcileResult] {
        @Sendable func one(_ index: Int) async -> ReconcileResult {
            let key = claimed[index]
            guard watched.contains(key.key) else {
                return await reconcileOne(key, id: ids[index], trust: trusts[index], now: now, actions: actions)
            }
            let own = ActionLog()
            var result = await reconcileOne(key, id: ids[index], trust: trusts[index], now: now, actions: own)
            actions.merge(own.snapshot)
            if let event = HistoryRepair.event(actions: own.snapshot, change: change) {
                result.events.append(event)
                logger.notice(
                    "the world was ahead of the database; brought back", metadata: [LogKey.key: "\(key.key)"])
            }
            return result
        }
        if claimed.count == 1 {
            return [await one(0)]
        }
        return await withTaskGroup(of: (Int, ReconcileResult).self) { group in
            for index in claimed.indices {
                group.addTask { (index, await one(index)) }
            }
            var results = [ReconcileResult](repeating: ReconcileResult(.done), count: claimed.count)
            for await (index, result) in group { results[index] = result }
            return results
        }
    }

    private func reconcileOne(
        _ claimed: ControllerStateStore.Claimed, id: String, trust: LeaseTrust, now: Date?,
        actions: ActionLog
    ) async -> ReconcileResult {
        let request = ReconcileRequest(
            key: claimed.key, desiredGeneration: claimed.desiredGeneration,
            attempts: claimed.attempts, fence: Fence(holder: holder, token: claimed.token),
            reconcileID: id, now: now, actions: actions, lease: trust)
        metrics.activeWorkers.increment()
        let started = clock.now
        // Its own task, so that a revoked lease cancels it.
        let task = Task { [reconciler] in try await reconciler.reconcile(request) }
        trust.onRevoke { task.cancel() }
        let result: ReconcileResult
        do {
            result = try await withTaskCancellationHandler {
                try await task.value
            } onCancel: {
                task.cancel()
            }
        } catch let failure as ReconcileFailure {
            result = ReconcileResult(.retry(failure))
        } catch let error as any ClassifiedFailure {
            result = ReconcileResult(.failed(error))
        } catch is CancellationError where trust.isRevoked {
            result = ReconcileResult(
                .retry(
                    ReconcileFailure(
                        reason: "LeaseLost",
                        message: "stopped: the lease could not be renewed in time")))
        } catch {
            result = ReconcileResult(.retry(ReconcileFailure(reason: "ReconcileError", message: "\(error)")))
        }
        metrics.activeWorkers.decrement()
        metrics.reconcileTime.recordNanoseconds((clock.now - started).nanoseconds)
        // Failures are logged with the batch's, once their subjects are named (`logFailures`).
        if result.outcome.failure == nil {
            log(result.outcome, attempts: claimed.attempts, logger: keyLogger(claimed, id: id))
        }
        // Every mutation a controller makes is a Normal event; each is also an info line.
        for event in result.events where event.type == .normal {
            keyLogger(claimed, id: id).info(
                "recorded a Normal event", metadata: ["reason": "\(event.reason)", "message": "\(event.message)"])
        }
        return result
    }

    /// The logger of one reconcile: its controller, key, reconcile ID, fence and subject.
    private func keyLogger(
        _ claimed: ControllerStateStore.Claimed, id: String, subject: [String: String] = [:]
    ) -> Logger {
        var logger = self.logger
        logger[metadataKey: LogKey.key] = "\(claimed.key)"
        logger[metadataKey: LogKey.reconcileID] = "\(id)"
        logger[metadataKey: LogKey.fence] = "\(claimed.token)"
        for (key, value) in subject { logger[metadataKey: key] = "\(value)" }
        return logger
    }

    /// One log line (and the error metrics) per failed reconcile, naming its subject (a
    /// workspace's org and name) when the controller can: one statement, only for batches that
    /// had a failure.
    private func logFailures(_ claimed: [ControllerStateStore.Claimed], ids: [String], results: [ReconcileResult]) async {
        let failed = claimed.indices.filter { results[$0].outcome.failure != nil }
        guard !failed.isEmpty else { return }
        var subjects: [String: [String: String]] = [:]
        if let names = self.subjects {
            do {
                subjects = try await names.subjects(of: failed.map { claimed[$0].key })
            } catch {
                logger.debug("naming the failed keys failed; logged by key only", metadata: ["error": "\(error)"])
            }
        }
        for index in failed {
            let subject = subjects[claimed[index].key] ?? [:]
            log(
                results[index].outcome, attempts: claimed[index].attempts,
                logger: keyLogger(claimed[index], id: ids[index], subject: subject))
        }
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
