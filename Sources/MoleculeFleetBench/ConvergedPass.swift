import Logging
import ReconcileRuntime

/// Figure 4's converged pass: tick mode's full pass (`TickDriver.tick(full: true)`) over one
/// controller's converged keys, with no host running, so every statement of its role is the pass's.
struct ConvergedPass {
    var controller: String
    var summary: TickSummary
    var report: PhaseReport
    /// Rows the pass inserted or updated in the controller's table, `workspaces` and `events`.
    var writes: [String: Int]

    static func run(
        _ controller: BenchController, world: FleetWorld, _ instruments: PhaseMeter.Instruments,
        logger: Logger
    ) async throws -> ConvergedPass {
        let tables = [controller.name, "workspaces", "events"]
        let transaction = try await world.currentTransaction()
        let meter = try await PhaseMeter.begin([controller], instruments)
        let summary = try await controller.fullPass(logger: logger)
        let report = try await meter.end()
        var writes: [String: Int] = [:]
        for table in tables { writes[table] = try await world.rowsWritten(in: table, since: transaction) }
        return ConvergedPass(controller: controller.name, summary: summary, report: report, writes: writes)
    }

    var statementsPerReconcile: Double? { report.statementsPerReconcile(controller) }

    /// One line: keys, what the pass wrote and did, statements per reconcile.
    var line: String {
        let counts = summary.controllers[controller] ?? .init()
        let perReconcile = statementsPerReconcile.map { fixed($0, 2) } ?? "n/a"
        return
            "\(controller): \(perReconcile) statements per converged reconcile (\(counts.reconciled) of \(counts.examined) keys "
            + "in \(seconds(report.seconds)), one batch at a time = \(fixed(report.rate(controller), 0))/s; "
            + "rows written: " + writes.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            + "; mutating provider calls \(summary.actions.mutatingTotal), "
            + "failures \(summary.failures.count))"
    }
}
