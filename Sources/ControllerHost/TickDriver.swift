import Foundation
import Logging
import Postgres
import ReconcileRuntime
import ReconcileStore

/// Tick mode: the sidecar's controllers, driven in passes instead of by the watch. A pass
/// processes every key that is due (or, with `full`, every key) once, through the same claim,
/// reconcile and fenced write-back as the sidecar, and returns a summary.
///
/// `now` is the injectable clock: it replaces the database's `now()` for leases and retry
/// times, so a test can step time instead of sleeping.
public struct TickDriver: Sendable {
    private let processors: [BatchProcessor]
    private let sweepers: [any Sweeper]
    private let pool: PostgresPool

    public init(
        pool: PostgresPool, controllers: [ReconcilerHost.Controller], sweepers: [any Sweeper] = [],
        holder: String = ReconcilerHost.defaultHolder(), logger: Logger
    ) {
        self.pool = pool
        self.sweepers = sweepers
        self.processors = controllers.map { BatchProcessor(controller: $0, pool: pool, holder: holder, logger: logger) }
    }

    /// One pass over every controller, then every sweeper.
    public func tick(now: Date? = nil, full: Bool = false) async throws -> TickSummary {
        var summary = TickSummary()
        summary.passes = 1
        let actions = ActionLog()
        for processor in processors {
            let keys =
                full
                ? try await allKeys(processor.store)
                : try await processor.store.selectPending(now: now).filter(\.isDue).map(\.key)
            var controller = TickSummary.Controller()
            controller.examined = keys.count
            for batch in stride(from: 0, to: keys.count, by: max(1, processor.options.batchSize)) {
                let slice = Array(keys[batch..<min(keys.count, batch + max(1, processor.options.batchSize))])
                let report = await processor.process(keys: slice, now: now, actions: actions)
                if let error = report.error { throw error }
                record(report, controller: processor.reconciler.name, into: &controller, failures: &summary.failures)
            }
            summary.controllers[processor.reconciler.name] = controller
        }
        for sweeper in sweepers {
            do {
                _ = try await sweeper.sweep(now: now, actions: actions)
            } catch {
                summary.failures.append(
                    .init(
                        controller: sweeper.name, key: "*", reason: "SweepFailed",
                        message: "\(error)", terminal: false))
            }
        }
        summary.actions = actions.snapshot
        summary.stillDue = try await dueCount(now: now)
        return summary
    }

    /// Passes until nothing is due (at most `maxPasses`), summed. With `waitUpTo`, and on the
    /// real clock (`now` nil), it also waits for keys that are still converging — whose next
    /// look (an instance booting, a debounce) is persisted and comes within that bound — and
    /// goes on until none is left, so a converged world is converged, not merely quiet.
    /// Failing keys are not waited for: their failures are in the summary.
    public func tickUntilConverged(now: Date? = nil, maxPasses: Int = 20, waitUpTo bound: Duration = .zero) async throws
        -> TickSummary
    {
        var total = TickSummary()
        let clock = ContinuousClock()
        let deadline = clock.now + bound
        var passes = 0
        while passes < maxPasses {
            let pass = try await tick(now: now)
            passes += 1
            total.add(pass)
            if pass.stillDue > 0, pass.reconciled > 0 { continue }
            guard now == nil, bound > .zero, let wait = try await nextConvergingLook() else { break }
            let remaining = deadline - clock.now
            guard remaining > .zero, wait <= remaining.seconds else { break }
            passes = 0
            try await Task.sleep(for: .seconds(max(0.05, wait)))
        }
        total.stillConverging = try await convergingCount()
        return total
    }

    /// What the idempotency check found.
    public struct IdempotencyReport: Sendable, Codable {
        public var converge: TickSummary
        public var check: TickSummary
        /// Tables written during the check pass (lease bookkeeping excluded), with row counts.
        public var rowWrites: [String: Int64]
        public var mutatingActions: [String: Int]
        public var passed: Bool { rowWrites.isEmpty && mutatingActions.isEmpty && check.failures.isEmpty }
    }

    /// Converges, then runs one more full pass over every key and reports any mutating
    /// provider action or row write it made. Lease claims and releases are bookkeeping of the
    /// pass itself and are not counted; everything else is, whoever wrote it.
    ///
    /// The check pass runs at the instant convergence ended (`now`, or the database's clock
    /// then): a look that comes due while it runs — a running instance is watched every few
    /// seconds — is time passing, not work the converged world needed, and rescheduling it
    /// would be counted as a write.
    public func checkIdempotent(now: Date? = nil, maxPasses: Int = 20, waitUpTo bound: Duration = .zero) async throws
        -> IdempotencyReport
    {
        var converge = try await tickUntilConverged(now: now, maxPasses: maxPasses, waitUpTo: bound)
        var instant = now
        if instant == nil { instant = try await LeaseStore(pool: pool).databaseNow() }
        // Looks that came due between the last pass and that instant are taken at it first.
        let converging = converge.stillConverging
        converge.add(try await tick(now: instant))
        converge.stillConverging = converging
        let audit = WriteAudit(pool: pool)
        let horizon = try await audit.begin()
        let check = try await tick(now: instant, full: true)
        var writes = try await audit.writes(since: horizon)
        writes.removeValue(forKey: "leases")
        return IdempotencyReport(converge: converge, check: check, rowWrites: writes, mutatingActions: check.actions.mutating)
    }

    private func record(
        _ report: BatchProcessor.Report, controller name: String, into controller: inout TickSummary.Controller,
        failures: inout [TickSummary.Failure]
    ) {
        controller.skipped += report.skipped.count
        controller.statusWrites += report.written.count
        for (key, outcome, _) in report.outcomes {
            controller.reconciled += 1
            switch outcome {
            case .done, .watch, .requeueAfter:
                controller.succeeded += 1
            case .retry(let failure), .terminal(let failure):
                controller.failed += 1
                var terminal = false
                if case .terminal = outcome { terminal = true }
                failures.append(
                    .init(
                        controller: name, key: key, reason: failure.reason, message: failure.message,
                        terminal: terminal))
            }
        }
    }

    private func allKeys(_ store: ControllerStateStore) async throws -> [String] {
        var keys: [String] = []
        while true {
            let page = try await store.selectKeys(after: keys.last, limit: 5_000)
            keys += page
            if page.count < 5_000 { return keys }
        }
    }

    private func dueCount(now: Date?) async throws -> Int {
        var count = 0
        for processor in processors {
            count += try await processor.store.selectPending(now: now).filter(\.isDue).count
        }
        return count
    }

    /// Seconds until the earliest look of a key still converging, over every controller.
    private func nextConvergingLook() async throws -> Double? {
        var earliest: Double?
        for processor in processors {
            if let wait = try await processor.store.selectConverging().map(\.waitSeconds).min() {
                earliest = min(earliest ?? wait, wait)
            }
        }
        return earliest
    }

    private func convergingCount() async throws -> Int {
        var count = 0
        for processor in processors { count += try await processor.store.selectConverging().count }
        return count
    }
}

extension TickSummary {
    mutating func add(_ pass: TickSummary) {
        passes += pass.passes
        for (name, controller) in pass.controllers {
            var total = controllers[name] ?? Controller()
            total.examined += controller.examined
            total.reconciled += controller.reconciled
            total.succeeded += controller.succeeded
            total.failed += controller.failed
            total.skipped += controller.skipped
            total.statusWrites += controller.statusWrites
            controllers[name] = total
        }
        actions.merge(pass.actions)
        failures += pass.failures
        stillDue = pass.stillDue
        stillConverging = pass.stillConverging
    }
}
