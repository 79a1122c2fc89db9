import Foundation
import Logging
import ReconcileRuntime
import ReconcileStore

extension BatchProcessor {
    /// The one place an outcome is turned into what the write-back records: the observed
    /// generation, `last_error`, the next look (persisted; jittered by the write-back), the status value, the
    /// events (with the host's own failure and recovery events) and the wake-ups.
    func statusWrite(
        for claimed: ControllerStateStore.Claimed,
        result: ReconcileResult
    ) -> (outcome: ReconcileOutcome, write: StatusWrite) {
        var result = result
        var status: String?
        if let patch = result.status {
            do {
                status = try StatusEncoding.json(patch)
            } catch {
                result = ReconcileResult(
                    .retry(
                        ReconcileFailure(
                            reason: "StatusEncoding",
                            message: "the status could not be encoded: \(error)")))
            }
        }
        var events = result.events
        let observed: Int64?
        let error: String?
        let next: StatusWrite.Next
        switch result.outcome {
        case .done:
            (observed, error, next) = (claimed.desiredGeneration, nil, .none)
        case .watch(let after):
            (observed, error, next) = (claimed.desiredGeneration, nil, .look(seconds: max(after, options.persistedWatch).seconds))
        case .requeueAfter(let after):
            (observed, error, next) = (nil, nil, .look(seconds: after.seconds))
        case .retry(let failure):
            let delay = retryPolicy.withLock {
                $0.delay(
                    afterFailures: claimed.attempts + 1, retryAfter: failure.retryAfter, now: clock.now,
                    random: Double.random(in: 0..<1))
            }
            (observed, error, next) = (nil, failure.message, .retry(seconds: delay.seconds))
            events.append(.warning(failure.reason, failure.message))
        case .terminal(let failure):
            (observed, error, next) = (nil, failure.message, .never)
            events.append(.warning(failure.reason, failure.message))
        }
        if error == nil, claimed.lastError != nil {
            events.append(.normal("Reconciled", "converged after \(claimed.attempts) failed attempt(s)"))
        }
        let write = StatusWrite(
            key: claimed.key, token: claimed.token, claimedGeneration: claimed.desiredGeneration,
            observedGeneration: observed, error: error,
            next: next, status: status, events: events, wakes: result.wakes)
        return (result.outcome, write)
    }

    /// `controller_runtime_reconcile_total`, once the write-back said whether the result was
    /// recorded: a result dropped (lease lost, write-back failed) is a `requeue`, whatever it was.
    func count(_ outcome: ReconcileOutcome, recorded: Bool) {
        guard recorded else { return metrics.reconcileRequeue.increment() }
        switch outcome {
        case .done, .watch: metrics.reconcileSuccess.increment()
        case .requeueAfter: metrics.reconcileRequeueAfter.increment()
        case .retry, .terminal: metrics.reconcileError.increment()
        }
    }

    /// The other metrics of an outcome, and its log line.
    func log(_ outcome: ReconcileOutcome, attempts: Int, logger: Logger) {
        switch outcome {
        case .done, .watch:
            logger.debug("reconciled")
        case .requeueAfter:
            logger.debug("not converged yet; looking again later")
        case .retry(let failure):
            metrics.reconcileErrors.increment()
            metrics.retries.increment()
            logger.warning(
                "reconcile failed; will retry",
                metadata: [
                    "reason": "\(failure.reason)", "error": "\(failure.message)", "attempt": "\(attempts + 1)",
                ])
        case .terminal(let failure):
            metrics.reconcileErrors.increment()
            metrics.terminalErrors.increment()
            logger.error(
                "reconcile failed terminally; not retried until the desired state changes",
                metadata: ["reason": "\(failure.reason)", "error": "\(failure.message)"])
        }
    }

    /// Runs `body` while a renewal task keeps the batch's leases alive, following
    /// `LeaseRenewal`: a key whose lease was taken over, or all keys once renewals have failed
    /// past the trust deadline, have their trust revoked (their reconciles are cancelled).
    func withRenewedLeases<T: Sendable>(
        _ claimed: [ControllerStateStore.Claimed], trusts: [LeaseTrust], renewal: LeaseRenewal,
        now: Date?, _ body: @Sendable () async -> T
    ) async -> T {
        let renewing = Task { [leases, holder, reconciler, logger, clock] in
            var renewal = renewal
            var fences = claimed.map { (key: $0.key, token: $0.token) }
            var action = renewal.first
            while case .renew(let at) = action, !fences.isEmpty {
                do { try await clock.sleep(until: at) } catch { return }
                let sentAt = clock.now
                do {
                    let (deadline, current, seconds) = (renewal.trustDeadline - sentAt, fences, renewal.durationSeconds)
                    let renewed = try await withDeadline(deadline, clock: clock) {
                        try await leases.renew(
                            controller: reconciler.name, fences: current, holder: holder,
                            leaseSeconds: seconds, now: now)
                    }
                    for (index, fence) in fences.enumerated() where !renewed.contains(fence.key) {
                        logger.warning("lease taken over during a reconcile; stopping it", metadata: [LogKey.key: "\(fence.key)"])
                        trusts[claimed.firstIndex { $0.key == fence.key } ?? index].revoke()
                    }
                    fences.removeAll { !renewed.contains($0.key) }
                    action = renewal.renewed(sentAt: sentAt)
                } catch is CancellationError where Task.isCancelled {
                    return
                } catch {
                    logger.warning("renewing leases failed", metadata: ["error": "\(error)"])
                    action = renewal.failed(at: clock.now)
                }
            }
            if action == .distrust {
                logger.error(
                    "leases could not be renewed in time; stopping their reconciles", metadata: ["keys": "\(fences.count)"])
                for fence in fences { trusts[claimed.firstIndex { $0.key == fence.key }!].revoke() }
            }
        }
        defer { renewing.cancel() }
        return await body()
    }
}

/// `body`'s value, or a `DeadlineExceeded` error once `timeout` has passed (the body is cancelled).
func withDeadline<T: Sendable>(
    _ timeout: Duration, clock: any ReconcileClock,
    _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    let deadline = clock.now + timeout
    return try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await clock.sleep(until: deadline)
            throw DeadlineExceeded()
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
}

struct DeadlineExceeded: Error, CustomStringConvertible {
    var description: String { "no answer before the deadline" }
}

/// How status values are encoded for the write-back: sorted keys (a stable text), and dates
/// as seconds since 1970 (read back with `to_timestamp`).
enum StatusEncoding {
    static func json(_ patch: any StatusPatch) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .secondsSince1970
        return String(decoding: try encoder.encode(patch), as: UTF8.self)
    }
}
