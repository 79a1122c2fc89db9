import Foundation
import Providers
import ReconcileRuntime
import ReconcileStore
import WorkspaceStore

/// Terminates live instances whose workspace row is gone (deleted with `DELETE FROM
/// workspaces`, which cascades away the controller rows and so leaves no key to reconcile).
/// A workspace set to `desired_state = 'deleted'` is not an orphan: the instances controller
/// tears it down. Each termination is recorded as a Warning event under the gone workspace's key.
public struct OrphanSweeper: Sweeper {
    public let name = "orphan_instances"
    private let provider: any InstanceProvider
    private let owner: String
    private let instances: InstanceStore
    private let events: EventStore

    /// - Parameter owner: the owner the instances controller launches with; only its instances are swept.
    public init(instances: InstanceStore, events: EventStore, provider: any InstanceProvider, owner: String) {
        self.provider = provider
        self.owner = owner
        self.instances = instances
        self.events = events
    }

    public func sweep(now: Date?, actions: ActionLog) async throws -> Int {
        actions.record("instances.list_all", mutating: false)
        let live = try await provider.listAll(owner: owner).filter(\.state.isLive)
        let terminated = try await terminate(live, now: now, actions: actions)
        return terminated + (try await release(now: now, actions: actions))
    }

    private func terminate(_ live: [InstanceRecord], now: Date?, actions: ActionLog) async throws -> Int {
        guard !live.isEmpty else { return 0 }
        let existing = try await instances.selectExistingWorkspaces(among: Array(Set(live.map(\.workspaceID))).sorted())
        var terminated = 0
        for orphan in live where !existing.contains(orphan.workspaceID) {
            actions.record("instances.terminate", mutating: true)
            try await provider.terminate(instanceID: orphan.id)
            terminated += 1
            try await events.record(
                controller: ControllerName.instances.rawValue, key: orphan.workspaceID, type: .warning,
                reason: "OrphanTerminated",
                message: "terminated instance \(orphan.id): its workspace no longer exists", now: now)
        }
        return terminated
    }

    /// What the provider still holds for gone workspaces (EC2: IAM roles), released after their
    /// instances were told to terminate; each release a Warning event under the gone workspace's key.
    private func release(now: Date?, actions: ActionLog) async throws -> Int {
        actions.record("instances.list_held", mutating: false)
        let held = try await provider.heldWorkspaces(owner: owner).filter { UUID(uuidString: $0) != nil }
        guard !held.isEmpty else { return 0 }
        let existing = try await instances.selectExistingWorkspaces(among: held)
        var released = 0
        for workspace in held where !existing.contains(workspace) {
            let deleted = try await provider.release(workspaceID: workspace, owner: owner)
            actions.record("instances.release", mutating: deleted)
            guard deleted else { continue }
            released += 1
            try await events.record(
                controller: ControllerName.instances.rawValue, key: workspace, type: .warning, reason: "OrphanReleased",
                message: "released what the provider held for workspace \(workspace): it no longer exists", now: now)
        }
        return released
    }
}
