import Foundation
import WorkspaceModel
import WorkspaceStore

/// `explain`'s answer: why a workspace is not converged now, and what each controller would do
/// next. Read-only: built from the rows as they are, by the controllers' own pure decisions
/// (`InstancePlan`, `InstanceDecision`, `RestartDecision`, `Remediation`, `PluginPlan`); no
/// provider is called and nothing is written.
struct Explanation: Codable, Equatable {
    /// Why a controller is where it is; the codes `explain -o json` prints.
    enum Reason: String, Codable {
        case converged = "Converged"
        /// Its desired generation moved and it has not looked yet (due now).
        case due = "Due"
        /// It will look again at a set time (an instance starting, a watch).
        case scheduled = "Scheduled"
        case waitingForBundle = "WaitingForBundle"
        case backoff = "Backoff"
        case terminalError = "TerminalError"
        case restartDeferredBusyTurn = "RestartDeferredBusyTurn"
        case restartDebounced = "RestartDebounced"
        case restartPending = "RestartPending"
        case remediationBackoff = "RemediationBackoff"
        case remediationBudgetSpent = "RemediationBudgetSpent"
        case circuitOpen = "CircuitOpen"
        /// Another replica holds the key's lease.
        case leaseHeld = "LeaseHeld"
        /// The workspace is failed or not ready for a reason the rows name (see `why`).
        case unhealthy = "Unhealthy"
        case waitingForInstance = "WaitingForInstance"
    }

    struct Controller: Codable, Equatable {
        var controller: String
        var reasons: [Reason]
        /// Why, in sentences.
        var why: [String]
        /// What it would do on its next pass.
        var next: [String]

        var converged: Bool { reasons == [.converged] }
    }

    var workspace: String
    var id: String
    var phase: String
    var ready: String
    var converged: Bool
    var controllers: [Controller]
    /// The database's clock the decisions were evaluated at.
    var evaluatedAt: Date

    /// Every reason that keeps the workspace from converging, in controller order.
    var reasons: [Reason] { controllers.flatMap(\.reasons).filter { $0 != .converged } }
}
