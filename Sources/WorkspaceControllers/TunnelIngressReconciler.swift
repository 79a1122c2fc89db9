import Foundation
import IngressModel
import Postgres
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
public struct TunnelIngressReconciler: Reconciler {
    public let name = "tunnel_ingress"
    let ingress: IngressStore
    let provider: any TunnelConfigProvider
    let limiter: ProviderRateLimiter
    let tunnels = KeyedSerializer()
    let events: EventStore

    /// - Parameter limiter: the provider's quota, shared by every call of this controller.
    public init(pool: PostgresPool, provider: any TunnelConfigProvider, limiter: ProviderRateLimiter = ProviderRateLimiter()) {
        self.ingress = IngressStore(pool: pool)
        self.provider = provider
        self.limiter = limiter
        self.events = EventStore(pool: pool)
    }

    public func reconcile(_ request: ReconcileRequest) async throws -> ReconcileOutcome {
        guard let inputs = try await ingress.selectInputs(tenantID: request.key) else { return .done }
        let rules: [IngressRule]
        do {
            if let service = inputs.malformedServices.first {
                throw IngressRenderer.Rejection(description: "tenants.services.\(service): must be a URL string")
            }
            rules = try IngressRenderer.render(hostname: inputs.hostname, services: inputs.services, paths: inputs.paths)
        } catch let rejection as IngressRenderer.Rejection {
            // Retrying will not help; a change to the tenant or to platform_paths will.
            return .terminal(ReconcileFailure(reason: "InvalidIngress",
                                              message: "tenant '\(inputs.name)': \(rejection); its tunnel keeps its current rules"))
        }
        let hash = try IngressRenderer.hash(rules)
        do {
            try await tunnels.run(inputs.tunnelID) {
                try await apply(rules, hash: hash, inputs, request)
            }
            return .done
        } catch let error as ProviderError {
            let failure = error.failure
            return error.isTerminal ? .terminal(failure) : .retry(failure)
        }
    }

    /// Reads the tunnel's configuration; writes it only if the tenant's rules differ.
    private func apply(_ rules: [IngressRule], hash: String, _ inputs: IngressStore.Inputs, _ request: ReconcileRequest) async throws {
        try await limiter.acquire()
        request.actions.record("tunnel.read", mutating: false)
        let current = try await provider.read(tunnelID: inputs.tunnelID)
        let catchAllLast = current?.ingress.last == IngressRenderer.catchAll
        if let current, current.rules(for: inputs.hostname) == rules, catchAllLast {
            try await ingress.recordApplied(hash: hash, rules: rules.count, tenantID: request.key, fence: request.fence, now: request.now)
            return
        }
        if inputs.appliedHash == hash {
            try await events.record(controller: name, key: request.key, fence: request.fence, type: .warning,
                                    reason: "IngressDriftRepaired",
                                    message: "tunnel \(inputs.tunnelID): the rules of \(inputs.hostname) differed from those rendered from platform_paths (changed outside the reconciler); rewritten",
                                    now: request.now)
        }
        try await limiter.acquire()
        request.actions.record("tunnel.write", mutating: true)
        try await provider.write(tunnelID: inputs.tunnelID, IngressRenderer.merge(current, hostname: inputs.hostname, rules: rules))
        try await ingress.recordApplied(hash: hash, rules: rules.count, tenantID: request.key, fence: request.fence, now: request.now)
        try await events.record(controller: name, key: request.key, fence: request.fence, type: .normal, reason: "IngressApplied",
                                message: "tunnel \(inputs.tunnelID): \(rules.count) rule(s) for \(inputs.hostname) applied (\(hash.prefix(12)))",
                                now: request.now)
    }
}
