import Foundation
import IngressModel
import Providers
import ReconcileRuntime

/// Removes the rules of a tenant that was deleted, or moved to another hostname or tunnel,
/// from the tunnel it left (the `retired_ingress` queue its row's trigger filled): no key
/// reconciles them any more, and a tunnel is shared. Shares the ingress controller's rate limit
/// and per-tunnel serialization. Never writes over a configuration it could not read.
public struct RetiredIngressSweeper: Sweeper {
    public let name = "retired_ingress"
    private let controller: TunnelIngressReconciler

    public init(_ controller: TunnelIngressReconciler) {
        self.controller = controller
    }

    public func sweep(now: Date?, actions: ActionLog) async throws -> Int {
        var removed = 0
        for retired in try await controller.ingress.selectRetired() {
            let wrote = try await controller.tunnels.run(retired.tunnelID) { () async throws -> Bool in
                try await controller.limiter.acquire()
                actions.record("tunnel.read", mutating: false)
                guard let current = try await controller.provider.read(tunnelID: retired.tunnelID),
                      !current.rules(for: retired.hostname).isEmpty else { return false }
                try await controller.limiter.acquire()
                actions.record("tunnel.write", mutating: true)
                try await controller.provider.write(tunnelID: retired.tunnelID,
                                                    IngressRenderer.merge(current, hostname: retired.hostname, rules: []))
                return true
            }
            try await controller.ingress.forgetRetired(tunnelID: retired.tunnelID, hostname: retired.hostname)
            if wrote { removed += 1 }
        }
        return removed
    }
}
