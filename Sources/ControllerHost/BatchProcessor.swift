import Foundation
import Logging
import Postgres
import ReconcileRuntime
import ReconcileStore
import Synchronization

/// Runs one batch of keys through a reconciler: claim their leases and read their
/// generations (one statement), reconcile them concurrently while renewing the leases, and
/// write every status back with its event while releasing the leases (one statement, fenced).
/// Shared by the sidecar's workers and by tick mode.
final class BatchProcessor: Sendable {
    struct Report: Sendable {
        /// Keys claimed, with their outcome (after fencing: a key whose lease was lost is in `lost`).
        var outcomes: [(key: String, outcome: ReconcileOutcome, retryDelay: Duration?)] = []
        /// Keys not claimed: held elsewhere or waiting out a retry time.
        var skipped: [String] = []
        /// Keys whose lease was taken over before the write-back; their writes were refused.
        var lost: Set<String> = []
        /// Keys whose status row changed.
        var written: Set<String> = []
        /// A database error that stopped the batch (the keys should be retried).
        var databaseError: PostgresError?
    }

    let reconciler: any Reconciler
    let store: ControllerStateStore
    let leases: LeaseStore
    let options: ControllerOptions
    let holder: String
    let metrics: ControllerMetrics
    let logger: Logger
    private let retryPolicy: Mutex<RetryPolicy>
    private let clock = ContinuousClock()
    private let origin: ContinuousClock.Instant

    init(reconciler: any Reconciler, pool: PostgresPool, options: ControllerOptions, holder: String, logger: Logger) {
        self.reconciler = reconciler
        self.store = ControllerStateStore(table: ControllerTable(reconciler.name), pool: pool)
        self.leases = LeaseStore(pool: pool)
        self.options = options
        self.holder = holder
        self.metrics = ControllerMetrics(controller: reconciler.name, workers: options.workers)
        var logger = logger
        logger[metadataKey: LogKey.controller] = "\(reconciler.name)"
        self.logger = logger
        self.retryPolicy = Mutex(RetryPolicy(backoff: options.backoff,
                                             bucket: TokenBucket(rate: options.retryRate, burst: options.retryBurst)))
        self.origin = clock.now
    }

    func process(keys: [String], now: Date?, actions: ActionLog) async -> Report {
        var report = Report()
        let schedule = LeaseSchedule(duration: options.leaseDuration)
        let claimed: [ControllerStateStore.Claimed]
        do {
            claimed = try await store.claim(keys: keys, holder: holder, leaseSeconds: schedule.durationSeconds, now: now)
        } catch {
            report.databaseError = error as? PostgresError ?? PostgresError(code: .other, message: "\(error)")
            logger.error("claiming leases failed", metadata: ["error": "\(error)"])
            return report
        }
        metrics.leaseAcquisitions.increment(by: claimed.count)
        let claimedKeys = Set(claimed.map(\.key))
        report.skipped = keys.filter { !claimedKeys.contains($0) }
        metrics.leaseContended.increment(by: report.skipped.count)
        guard !claimed.isEmpty else { return report }

        let outcomes = await reconcileAll(claimed, now: now, actions: actions, schedule: schedule)
        let writes = zip(claimed, outcomes).map { statusWrite(for: $0, outcome: $1.outcome, retryDelay: $1.retryDelay) }
        do {
            let result = try await store.writeBack(writes, holder: holder, now: now)
            report.written = result.written
            report.lost = claimedKeys.subtracting(result.fenced)
        } catch {
            report.databaseError = error as? PostgresError ?? PostgresError(code: .other, message: "\(error)")
            logger.error("writing statuses failed", metadata: ["error": "\(error)"])
        }
        for key in report.lost {
            metrics.leaseLosses.increment()
            logger.warning("lease lost before the status write; the write was refused",
                           metadata: [LogKey.key: "\(key)"])
        }
        report.outcomes = zip(claimed, outcomes).map { ($0.key, $1.outcome, $1.retryDelay) }
        return report
    }

    /// Reconciles the claimed keys concurrently; a renewal task keeps their leases alive for
    /// as long as the slowest one runs.
    private func reconcileAll(_ claimed: [ControllerStateStore.Claimed], now: Date?, actions: ActionLog,
                              schedule: LeaseSchedule) async -> [(outcome: ReconcileOutcome, retryDelay: Duration?)] {
        let renewal = Task { [leases, holder, reconciler, logger] in
            let fences = claimed.map { (key: $0.key, token: $0.token) }
            while !Task.isCancelled {
                do {
                    try await Task.sleep(for: schedule.renewInterval)
                    let renewed = try await leases.renew(controller: reconciler.name, fences: fences, holder: holder,
                                                         leaseSeconds: schedule.durationSeconds, now: now)
                    if renewed.count < fences.count {
                        logger.warning("some leases were taken over during a reconcile",
                                       metadata: ["lost": "\(fences.count - renewed.count)"])
                    }
                } catch is CancellationError {
                    return
                } catch {
                    logger.warning("renewing leases failed", metadata: ["error": "\(error)"])
                }
            }
        }
        defer { renewal.cancel() }
        if claimed.count == 1 {
            return [await reconcileOne(claimed[0], now: now, actions: actions)]
        }
        return await withTaskGroup(of: (Int, (ReconcileOutcome, Duration?)).self) { group in
            for (index, key) in claimed.enumerated() {
                group.addTask { (index, await self.reconcileOne(key, now: now, actions: actions)) }
            }
            var results = [(outcome: ReconcileOutcome, retryDelay: Duration?)](repeating: (.done, nil), count: claimed.count)
            for await (index, result) in group { results[index] = result }
            return results
        }
    }

    private func reconcileOne(_ claimed: ControllerStateStore.Claimed, now: Date?,
                              actions: ActionLog) async -> (ReconcileOutcome, Duration?) {
        let request = ReconcileRequest(key: claimed.key, desiredGeneration: claimed.desiredGeneration,
                                       attempts: claimed.attempts, fence: Fence(holder: holder, token: claimed.token),
                                       reconcileID: UUID().uuidString.lowercased(), now: now, actions: actions)
        var logger = self.logger
        logger[metadataKey: LogKey.key] = "\(claimed.key)"
        logger[metadataKey: LogKey.reconcileID] = "\(request.reconcileID)"
        metrics.activeWorkers.increment()
        let started = clock.now
        let outcome: ReconcileOutcome
        do {
            outcome = try await reconciler.reconcile(request)
        } catch let failure as ReconcileFailure {
            outcome = .retry(failure)
        } catch {
            outcome = .retry(ReconcileFailure(reason: "ReconcileError", message: "\(error)"))
        }
        metrics.activeWorkers.decrement()
        metrics.reconcileTime.recordNanoseconds((clock.now - started).nanoseconds)
        switch outcome {
        case .done:
            metrics.reconcileSuccess.increment()
            logger.debug("reconciled")
            return (outcome, nil)
        case .requeueAfter:
            metrics.reconcileRequeueAfter.increment()
            return (outcome, nil)
        case .retry(let failure):
            metrics.reconcileError.increment()
            metrics.reconcileErrors.increment()
            metrics.retries.increment()
            let delay = retryPolicy.withLock {
                $0.delay(afterFailures: claimed.attempts + 1, retryAfter: failure.retryAfter,
                         now: clock.now - origin, random: Double.random(in: 0..<1))
            }
            logger.warning("reconcile failed; will retry", metadata: [
                "reason": "\(failure.reason)", "error": "\(failure.message)",
                "attempt": "\(claimed.attempts + 1)", "retry_in_s": "\(delay.seconds)",
            ])
            return (outcome, delay)
        case .terminal(let failure):
            metrics.reconcileError.increment()
            metrics.reconcileErrors.increment()
            metrics.terminalErrors.increment()
            logger.error("reconcile failed terminally; not retried until the desired state changes",
                         metadata: ["reason": "\(failure.reason)", "error": "\(failure.message)"])
            return (outcome, nil)
        }
    }

    private func statusWrite(for claimed: ControllerStateStore.Claimed, outcome: ReconcileOutcome,
                             retryDelay: Duration?) -> StatusWrite {
        switch outcome {
        case .done, .requeueAfter:
            let recovered = claimed.lastError.map { _ in
                StatusWrite.Event(type: .normal, reason: "Reconciled",
                                  message: "converged after \(claimed.attempts) failed attempt(s)")
            }
            return StatusWrite(key: claimed.key, token: claimed.token, observedGeneration: claimed.desiredGeneration,
                               error: nil, retry: .none, event: recovered)
        case .retry(let failure):
            return StatusWrite(key: claimed.key, token: claimed.token, observedGeneration: nil,
                               error: failure.message, retry: .after(seconds: (retryDelay ?? .zero).seconds),
                               event: .init(type: .warning, reason: failure.reason, message: failure.message))
        case .terminal(let failure):
            return StatusWrite(key: claimed.key, token: claimed.token, observedGeneration: nil,
                               error: failure.message, retry: .never,
                               event: .init(type: .warning, reason: failure.reason, message: failure.message))
        }
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
