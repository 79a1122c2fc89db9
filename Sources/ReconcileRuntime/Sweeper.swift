import Foundation

/// Work that has no key of its own: collecting outside resources whose owning row is gone (a
/// runtime process of a workspace someone deleted with `DELETE FROM workspaces`), like the
/// Kubernetes garbage collector. The sidecar runs every sweeper at start and periodically; tick
/// mode runs them once per pass, counting their provider actions like a reconciler's.
public protocol Sweeper: Sendable {
    /// Shown in logs and tick summaries.
    var name: String { get }
    /// Collects what is orphaned now; returns how many resources it acted on. A sweep over a
    /// world with no orphans performs no mutating action and writes no row.
    func sweep(now: Date?, actions: ActionLog) async throws -> Int
}
