import Foundation
import ReconcileRuntime
import WorkspaceModel
import WorkspaceStore

/// Builds an `Explanation` from rows: the controllers' bookkeeping (leases, backoff, terminal
/// failures), then each controller's own decision on its facts.
struct Explainer {
    var detail: FleetQueries.WorkspaceDetail
    var facts: InstanceFacts
    var now: Date
    var fleet: Remediation.FleetHealth
    var remediation = Remediation.Policy()

    func explain() -> Explanation {
        let controllers = ["secret_bundles", "instances", "plugin_installs"].map { name in
            let row = detail.controllers.first { $0.controller == name }
            var explained = bookkeeping(name, row)
            switch name {
            case "secret_bundles": bundle(&explained)
            case "instances": instances(&explained)
            default: plugins(&explained)
            }
            if explained.reasons.isEmpty { explained.reasons = [.converged] }
            if explained.next.isEmpty { explained.next = ["nothing: converged"] }
            return explained
        }
        let ready = detail.conditions.first { $0.type == "Ready" }?.status ?? "Unknown"
        let converged = controllers.allSatisfy(\.converged) && (facts.desiredState != .running || ready == "True")
        return Explanation(
            workspace: "\(detail.workspace.org)/\(detail.workspace.name)", id: detail.workspace.id,
            phase: detail.workspace.phase, ready: ready, converged: converged, controllers: controllers, evaluatedAt: now)
    }

    /// What the controller table says, whatever the controller: a lease held elsewhere, a
    /// terminal failure, a backoff, a change not looked at yet.
    private func bookkeeping(_ name: String, _ row: FleetQueries.ControllerRow?) -> Explanation.Controller {
        var explained = Explanation.Controller(controller: name, reasons: [], why: [], next: [])
        guard let row else {
            explained.reasons = [.due]
            explained.why = ["no \(name) row yet"]
            return explained
        }
        if row.leaseHeld, let holder = row.leaseHolder {
            explained.reasons.append(.leaseHeld)
            explained.why.append("replica \(holder) holds the lease until \(Timestamp.format(row.leaseExpiresAt))")
        }
        if let next = row.nextAttemptAt, next == .distantFuture, let error = row.lastError {
            explained.reasons.append(.terminalError)
            explained.why.append("failed terminally: \(error)")
            explained.next.append("nothing until its input changes (the spec, template, secrets or plugins it reads)")
        } else if let error = row.lastError, let next = row.nextAttemptAt, next > now {
            explained.reasons.append(.backoff)
            explained.why.append("failed \(row.attempts) time(s), last: \(error)")
            explained.next.append("retries at \(Timestamp.format(next)) (in \(Int(next.timeIntervalSince(now).rounded(.up))) s)")
        } else if row.desiredGeneration != row.observedGeneration {
            if let next = row.nextAttemptAt, next > now {
                explained.reasons.append(.scheduled)
                explained.why.append(
                    "generation \(row.desiredGeneration) not converged yet (observed \(row.observedGeneration)); looks again at \(Timestamp.format(next))"
                )
            } else {
                explained.reasons.append(.due)
                explained.why.append(
                    "generation \(row.desiredGeneration) not observed yet (observed \(row.observedGeneration)): due now")
            }
        }
        return explained
    }

    private func bundle(_ explained: inout Explanation.Controller) {
        guard facts.desiredState != .deleted else { return }
        if facts.stagedGeneration != facts.targetGeneration, !explained.reasons.contains(.terminalError) {
            explained.next.append("stage the bundle of instance generation \(facts.targetGeneration)")
        }
    }

    private func plugins(_ explained: inout Explanation.Controller) {
        // A stopped or deleted workspace has no instance to deliver into, by design.
        guard facts.desiredState == .running else { return }
        let declared = detail.plugins.compactMap { row in
            row.desired.map {
                PluginPlan.Declared(name: row.plugin, ref: $0, requiresRestart: row.requiresRestart, privileged: row.privileged)
            }
        }
        var managed: [String: String] = [:]
        for row in detail.plugins { if let installed = row.installed { managed[row.plugin] = installed } }
        let plan = PluginPlan.decide(
            kind: facts.kind, declared: declared, installed: detail.heartbeat.map { _ in managed } ?? managed,
            managed: managed)
        let running = detail.workspace.phase != "stopped" && facts.instanceID != nil && facts.instanceState == "running"
        let work =
            plan.install.map { "install \($0.name)@\($0.ref)" } + plan.remove.map { "remove \($0)" }
        if !work.isEmpty {
            if running {
                explained.next.append(contentsOf: work.map { "\($0) in instance \(facts.instanceID ?? "")" })
            } else {
                explained.reasons.append(.waitingForInstance)
                explained.why.append("no running instance to deliver into")
                explained.next.append(contentsOf: work.map { "\($0) once an instance runs" })
            }
        }
        for name in plan.refused {
            explained.why.append("\(name) is privileged and this workspace is not kind platform: never delivered")
        }
        for name in plan.awaitingRestart {
            explained.why.append("\(name) is loaded at boot: it arrives with the next instance")
        }
    }
}
