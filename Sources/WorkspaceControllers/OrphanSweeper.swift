import Foundation
import Providers
import ReconcileRuntime
import ReconcileStore
import WorkspaceModel
import WorkspaceStore

/// Terminates live instances whose workspace row is gone (deleted with `DELETE FROM
/// workspaces`, which cascades away the controller rows and so leaves no key to reconcile).
/// A workspace set to `desired_state = 'deleted'` is not an orphan: the instances controller
/// tears it down. Each termination is recorded as a Warning event under the gone workspace's key.
/// With a provider that keeps ended instances (`keepsEndedInstances`: Docker's exited
/// containers), it also removes the ended ones nothing wants: of a gone, stopped or deleted
/// workspace, or of a generation that was replaced (a Normal `EndedInstanceRemoved` event each).
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
        let listed = try await provider.listAll(owner: owner)
        let live = listed.filter(\.state.isLive)
        let ended = provider.keepsEndedInstances ? listed.filter { $0.state == .terminated } : []
        var terminated = 0
        if !live.isEmpty {
            let existing = try await instances.selectExistingWorkspaces(among: Array(Set(live.map(\.workspaceID))).sorted())
            for orphan in live where !existing.contains(orphan.workspaceID) {
                actions.record("instances.terminate", mutating: true)
                try await provider.terminate(instanceID: orphan.id)
                terminated += 1
                try await events.record(
                    controller: ControllerName.instances.rawValue, key: orphan.workspaceID, type: .warning,
                    reason: "OrphanTerminated",
                    message: "terminated instance \(orphan.id): its workspace no longer exists", now: now)
            }
        }
        if !ended.isEmpty {
            terminated += try await removeUnwanted(ended, now: now, actions: actions)
        }
        return terminated + (try await release(now: now, actions: actions))
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

    /// Removes the ended instances (exited containers) that nothing wants any more; an ended
    /// instance of a running workspace's current generation stays, for the instances controller
    /// to read how it ended (its exit code and log reach `last_error`) before it replaces it.
    private func removeUnwanted(_ ended: [InstanceRecord], now: Date?, actions: ActionLog) async throws -> Int {
        let wanted = try await instances.selectWanted(among: Array(Set(ended.map(\.workspaceID))).sorted())
        var removed = 0
        for instance in ended {
            guard let why = Self.unwanted(instance, wanted: wanted[instance.workspaceID]) else { continue }
            actions.record("instances.terminate", mutating: true)
            try await provider.terminate(instanceID: instance.id)
            removed += 1
            try await events.record(
                controller: ControllerName.instances.rawValue, key: instance.workspaceID, type: .normal,
                reason: "EndedInstanceRemoved", message: "removed instance \(instance.id), which had ended: \(why)", now: now)
        }
        return removed
    }

    /// Why nothing wants this ended instance any more, or nil while the instances controller may
    /// still read it (the current generation of a workspace that should run, or a generation
    /// newer than the one on record).
    static func unwanted(_ instance: InstanceRecord, wanted: InstanceStore.Wanted?) -> String? {
        guard let wanted else { return "its workspace no longer exists" }
        guard wanted.desiredState == .running else { return "its workspace is \(wanted.desiredState.rawValue)" }
        guard let target = wanted.targetGeneration, instance.generation < target else { return nil }
        return "generation \(instance.generation) was replaced by generation \(target)"
    }
}
