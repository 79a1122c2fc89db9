import Foundation
import IngressModel
import Providers
import ReconcileRuntime
import WorkspaceStore

/// Removes the rules of a tenant that was deleted, or moved to another hostname or tunnel,
/// from the tunnel it left (the `retired_ingress` queue its row's trigger filled): no key
/// reconciles them any more, and a tunnel is shared. Shares the ingress controller's
/// `TunnelWriter` (quota, one writer per tunnel). Never writes over a configuration it could
/// not read.
public struct RetiredIngressSweeper: Sweeper {
    public let name = "retired_ingress"
    private let store: IngressStore
    private let writer: TunnelWriter

    public init(store: IngressStore, writer: TunnelWriter) {
        self.store = store
        self.writer = writer
    }

    public func sweep(now: Date?, actions: ActionLog) async throws -> Int {
        var removed = 0
        for retired in try await store.selectRetired() {
            let wrote = try await writer.serialized(retired.tunnelID) { () async throws -> Bool in
                guard let current = try await writer.read(retired.tunnelID, actions: actions),
                      !current.rules(for: retired.hostname).isEmpty else { return false }
                try await writer.write(retired.tunnelID, IngressRenderer.merge(current, hostname: retired.hostname, rules: []),
                                       actions: actions)
                return true
            }
            try await store.forgetRetired(tunnelID: retired.tunnelID, hostname: retired.hostname)
            if wrote { removed += 1 }
        }
        return removed
    }
}
