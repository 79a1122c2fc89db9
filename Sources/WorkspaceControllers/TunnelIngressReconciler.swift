import Foundation
import IngressModel
import Providers
import ReconcileRuntime
import ReconcileStore
import WorkspaceStore

/// Keeps every tenant's tunnel ingress equal to the rules rendered from `platform_paths` (seed
/// 000's closing note: tenants kept a stale ingress because nothing re-applied it). Each pass
/// renders the tenant's rules, reads the provider's configuration back and compares the
/// tenant's rules in it — not a remembered hash — so an edit made behind the reconciler's back
/// is repaired by the next full resync. Writes keep other hostnames' rules and end with the
/// catch-all; only a difference is written. A tenant that cannot be rendered (a malformed
/// pattern, a missing service URL) fails alone and keeps what it had.
public struct TunnelIngressReconciler: Reconciler, StatusWriter {
    public let name = ControllerName.tunnelIngress.rawValue
    private let ingress: IngressStore
    private let writer: TunnelWriter

    /// - Parameter writer: the tunnel provider behind its quota and its one-writer-per-tunnel
    ///   rule, shared with the retired-ingress sweeper.
    public init(store: IngressStore, writer: TunnelWriter) {
        self.ingress = store
        self.writer = writer
    }

    public var statusColumns: StatusColumns { ingress.statusColumns }

    public func reconcile(_ request: ReconcileRequest) async throws -> ReconcileResult {
        guard let inputs = try await ingress.selectInputs(tenantID: request.key) else { return ReconcileResult(.done) }
        let rendering: IngressRenderer.Rendering
        do {
            if let service = inputs.malformedServices.first {
                throw IngressRenderer.Rejection(description: "tenants.services.\(service): must be a URL string")
            }
            rendering = try IngressRenderer.render(hostname: inputs.hostname, services: inputs.services, paths: inputs.paths)
        } catch let rejection as IngressRenderer.Rejection {
            // Retrying will not help; a change to the tenant will.
            return ReconcileResult(
                .terminal(
                    ReconcileFailure(
                        reason: "InvalidIngress",
                        message: "tenant '\(inputs.name)': \(rejection); its tunnel keeps its current rules")))
        }
        let rules = rendering.rules
        let hash = try IngressRenderer.hash(rules)
        // A skipped path is said once, when the set changes, not on every pass.
        let skippedEvents: [ReconcileEvent] =
            rendering.skipped == inputs.skippedPaths
            ? []
            : rendering.skipped.map {
                .warning(
                    "PathSkipped", "platform_paths.pattern '\($0.pattern)' does not reach tenant '\(inputs.name)': \($0.reason)")
            }
        do {
            let events = try await writer.serialized(inputs.tunnelID) {
                try await apply(rules, hash: hash, inputs, request)
            }
            return ReconcileResult(
                .done, status: IngressStatus(appliedHash: hash, appliedRules: rules.count, skippedPaths: rendering.skipped),
                events: skippedEvents + events)
        } catch let error as ProviderError {
            return ReconcileResult(.failed(error))
        }
    }

    /// Reads the tunnel's configuration; writes it only if the tenant's rules differ. Returns
    /// the events of what it did.
    private func apply(
        _ rules: [IngressRule], hash: String, _ inputs: IngressStore.Inputs,
        _ request: ReconcileRequest
    ) async throws -> [ReconcileEvent] {
        let current = try await writer.read(inputs.tunnelID, actions: request.actions)
        let catchAllLast = current?.ingress.last == IngressRenderer.catchAll
        if let current, current.rules(for: inputs.hostname) == rules, catchAllLast { return [] }
        var events: [ReconcileEvent] = []
        if inputs.appliedHash == hash {
            events.append(
                .warning(
                    "IngressDriftRepaired",
                    "tunnel \(inputs.tunnelID): the rules of \(inputs.hostname) differed from those rendered from platform_paths (changed outside the reconciler); rewritten"
                ))
        }
        try Task.checkCancellation()
        try await writer.write(
            inputs.tunnelID, IngressRenderer.merge(current, hostname: inputs.hostname, rules: rules),
            actions: request.actions)
        events.append(
            .normal(
                "IngressApplied",
                "tunnel \(inputs.tunnelID): \(rules.count) rule(s) for \(inputs.hostname) applied (\(hash.prefix(12)))"))
        return events
    }
}
