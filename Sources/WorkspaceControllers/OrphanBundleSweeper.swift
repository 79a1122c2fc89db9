import Foundation
import Providers
import ReconcileRuntime
import ReconcileStore
import WorkspaceModel
import WorkspaceStore

/// Deletes the staged bundles of workspaces deleted outright (`DELETE FROM workspaces`, which
/// leaves no key to reconcile), with the secret store's recovery window, as the bundle
/// controller does for `desired_state = 'deleted'`: secrets of a workspace that is gone do not
/// stay readable. The store purges them when the window has passed.
public struct OrphanBundleSweeper: Sweeper {
    public let name = "orphan_bundles"
    private let store: any SecretStore
    private let workspaces: InstanceStore
    private let events: EventStore
    private let recoveryWindowDays: Int

    public init(secretStore: any SecretStore, workspaces: InstanceStore, events: EventStore, recoveryWindowDays: Int = 7) {
        self.store = secretStore
        self.workspaces = workspaces
        self.events = events
        self.recoveryWindowDays = recoveryWindowDays
    }

    public func sweep(now: Date?, actions: ActionLog) async throws -> Int {
        actions.record("secret_store.list", mutating: false)
        let names = try await store.list(prefix: WorkspaceBundle.secretNamePrefix)
        let owners = names.compactMap { name in WorkspaceBundle.workspaceID(ofSecretName: name).map { (name, $0) } }
            .filter { UUID(uuidString: $0.1) != nil }
        guard !owners.isEmpty else { return 0 }
        let existing = try await workspaces.selectExistingWorkspaces(among: Array(Set(owners.map(\.1))).sorted())
        var deleted = 0
        for (name, workspaceID) in owners where !existing.contains(workspaceID.lowercased()) {
            // Describing also lets the store purge a secret whose recovery window has passed.
            actions.record("secret_store.describe", mutating: false)
            guard let described = try await store.describe(name: name), !described.scheduledForDeletion else { continue }
            actions.record("secret_store.delete", mutating: true)
            try await store.delete(name: name, recoveryWindowDays: recoveryWindowDays)
            deleted += 1
            try await events.record(
                controller: ControllerName.secretBundles.rawValue, key: workspaceID, type: .normal,
                reason: "BundleDeleted",
                message: "the bundle of a workspace that no longer exists is scheduled for deletion (\(recoveryWindowDays) days)",
                now: now)
        }
        return deleted
    }
}
