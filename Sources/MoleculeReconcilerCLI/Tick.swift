import ArgumentParser
import ControllerHost
import Foundation
import LogEscaping
import Logging
import Postgres
import ReconcileRuntime
import ReconcileStore

struct Tick: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Process everything that is due once, print a summary, and exit.")

    @OptionGroup var global: GlobalOptions

    @OptionGroup(title: "Providers") var providers: ProviderOptions

    @Flag(help: "Print the summary as JSON.")
    var json = false

    @Flag(
        help:
            "Repeat passes until nothing is due and no key is still converging (an instance booting, a debounce): on the real clock it waits for their persisted next looks, up to --converge-timeout."
    )
    var untilConverged = false

    @Option(help: "Seconds --until-converged (and --check-idempotent) wait at most for keys still converging.")
    var convergeTimeout: Double = 120

    @Flag(
        help:
            "Converge, then run one more full pass; fail, naming what changed, if it called a mutating provider action or wrote a row."
    )
    var checkIdempotent = false

    @Flag(help: "Examine every key, not only the due ones (looks for drift in the outside world).")
    var full = false

    @Option(help: "Pretend the time is this ISO-8601 instant (replaces the database's now()).")
    var now: String?

    func validate() throws {
        if let now, ISO8601DateFormatter().date(from: now) == nil {
            throw ValidationError("--now must be an ISO-8601 instant such as 2026-11-22T10:00:00Z, got '\(now)'")
        }
    }

    func run() async throws {
        let instant = now.flatMap { ISO8601DateFormatter().date(from: $0) }
        try await global.withDatabase(poolSize: 4, schema: .migrateIfEmbedded(force: false)) { owner, target, logger in
            // As `run` does: on the embedded server, the controllers run as its reconciler login.
            let pool = target.embedded == nil ? owner : try await Run.sidecarPool(owner: owner, size: 4)
            try await PrivilegeCheck(pool: pool).enforce(logger: logger)
            let set = try await Controllers.make(pool: pool, global: global, providers: providers, logger: logger)
            let driver = TickDriver(pool: pool, controllers: set.controllers, sweepers: set.sweepers, logger: logger)
            if checkIdempotent {
                let report = try await driver.checkIdempotent(now: instant, waitUpTo: .seconds(convergeTimeout))
                try printIdempotency(report)
                if !report.passed { throw ExitCode.failure }
                return
            }
            let summary =
                untilConverged
                ? try await driver.tickUntilConverged(now: instant, waitUpTo: .seconds(convergeTimeout))
                : try await driver.tick(now: instant, full: full)
            if json {
                print(try Self.encode(summary))
            } else {
                printSummary(summary)
            }
            if untilConverged, summary.stillConverging > 0 {
                logger.warning("keys still converging when the wait ended", metadata: ["keys": "\(summary.stillConverging)"])
                throw ExitCode(3)
            }
        }
    }

    private func printSummary(_ summary: TickSummary) {
        print(
            "passes: \(summary.passes), examined: \(summary.examined), reconciled: \(summary.reconciled), still due: \(summary.stillDue), still converging: \(summary.stillConverging)"
        )
        for (name, controller) in summary.controllers.sorted(by: { $0.key < $1.key }) {
            print(
                "  \(name): examined \(controller.examined), succeeded \(controller.succeeded), failed \(controller.failed), skipped \(controller.skipped), status writes \(controller.statusWrites)"
            )
        }
        for (action, count) in summary.actions.mutating.sorted(by: { $0.key < $1.key }) {
            print("  action \(action): \(count)")
        }
        for failure in summary.failures {
            print(
                "  \(failure.terminal ? "terminal" : "retrying") \(failure.controller)/\(failure.key): \(failure.reason): \(LogEscape.escape(failure.message))"
            )
        }
    }

    private func printIdempotency(_ report: TickDriver.IdempotencyReport) throws {
        if json {
            print(try Self.encode(report))
            return
        }
        print(
            "converged in \(report.converge.passes) pass(es), \(report.converge.reconciled) reconcile(s); check pass examined \(report.check.examined) key(s)"
        )
        if report.passed {
            print("idempotent: the check pass made no provider mutation and wrote no row")
            return
        }
        print("NOT idempotent:")
        for (table, rows) in report.rowWrites.sorted(by: { $0.key < $1.key }) {
            print("  wrote \(rows) row(s) in \(table)")
        }
        for (action, count) in report.mutatingActions.sorted(by: { $0.key < $1.key }) {
            print("  called \(action) \(count) time(s)")
        }
        for failure in report.check.failures {
            print("  failed \(failure.controller)/\(failure.key): \(failure.reason): \(LogEscape.escape(failure.message))")
        }
    }

    static func encode<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        encoder.dateEncodingStrategy = .iso8601
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}
