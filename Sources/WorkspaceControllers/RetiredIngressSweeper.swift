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

    /// Each retired pair fails alone: its error is recorded on its row (retried with backoff),
    /// and the sweep goes on with the others. Throws only when the queue cannot be read.
    public func sweep(now: Date?, actions: ActionLog) async throws -> Int {
        var removed = 0
        for retired in try await store.selectRetired(now: now) {
            do {
                if try await remove(retired.hostname, from: retired.tunnelID, actions: actions) { removed += 1 }
                try await store.forgetRetired(tunnelID: retired.tunnelID, hostname: retired.hostname)
            } catch let error as ProviderError {
                try await store.recordRetiredFailure(
                    tunnelID: retired.tunnelID, hostname: retired.hostname,
                    error: error.description, now: now)
            }
        }
        return removed
    }

    /// Removes a hostname's rules from a tunnel; false when it had none.
    private func remove(_ hostname: String, from tunnelID: String, actions: ActionLog) async throws -> Bool {
        try await writer.serialized(tunnelID) { () async throws -> Bool in
            guard let current = try await writer.read(tunnelID, actions: actions),
                !current.rules(for: hostname).isEmpty
            else { return false }
            try await writer.write(tunnelID, IngressRenderer.merge(current, hostname: hostname, rules: []), actions: actions)
            return true
        }
    }
}
