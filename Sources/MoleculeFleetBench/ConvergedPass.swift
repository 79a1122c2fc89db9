import Logging
import ReconcileRuntime

/// Figure 4's converged pass: tick mode's full pass (`TickDriver.tick(full: true)`) over one
/// controller's converged keys, with no host running, so every statement of its role is the pass's.
struct ConvergedPass {
    var controller: String
    var summary: TickSummary
    var report: PhaseReport

    static func run(_ controller: BenchController, _ instruments: PhaseMeter.Instruments, logger: Logger) async throws -> ConvergedPass {
        let meter = try await PhaseMeter.begin([controller], instruments)
        let summary = try await controller.fullPass(logger: logger)
        return ConvergedPass(controller: controller.name, summary: summary, report: try await meter.end())
    }

    var statementsPerReconcile: Double? { report.statementsPerReconcile(controller) }

    /// One line: keys, what the pass wrote and did, statements per reconcile.
    var line: String {
        let counts = summary.controllers[controller] ?? .init()
        let perReconcile = statementsPerReconcile.map { fixed($0, 2) } ?? "n/a"
        return "\(controller): \(perReconcile) statements per converged reconcile (\(counts.reconciled) of \(counts.examined) keys "
            + "in \(seconds(report.seconds)), one batch at a time = \(fixed(report.rate(controller), 0))/s; "
            + "rows written \(counts.statusWrites), mutating provider calls \(summary.actions.mutatingTotal), "
            + "failures \(summary.failures.count))"
    }
}
