import Foundation
import Providers
import ReconcileRuntime
import ReconcileStore
import WorkspaceModel
import WorkspaceStore

/// Stages each workspace's bundle — template files, its org's and its own secrets, the
/// instance token of the generation that should run — into the secret store, derived from the
/// source of truth on every reconcile (seeds 003, 004). Staging is idempotent (compare the
/// stored hash first); a name scheduled for deletion is restored and rewritten (seed 000's
/// deprovision/provision race). A deleted workspace's bundle is deleted with a recovery window.
public struct SecretsBundleReconciler: Reconciler, StatusWriter {
    public let name = ControllerName.secretBundles.rawValue
    /// The recovery window of a deleted workspace's bundle, in days (7–30). Default 7.
    public var recoveryWindowDays = 7

    private let bundles: BundleStore
    private let store: any SecretStore

    public init(store: BundleStore, secretStore: any SecretStore) {
        self.bundles = store
        self.store = secretStore
    }

    public var statusColumns: StatusColumns { bundles.statusColumns }

    public func reconcile(_ request: ReconcileRequest) async throws -> ReconcileResult {
        guard let inputs = try await bundles.selectInputs(workspaceID: request.key) else { return ReconcileResult(.done) }
        let name = WorkspaceBundle.secretName(workspaceID: request.key)
        do {
            if inputs.desiredState == .deleted {
                let deleted = try await deleteBundle(name, request)
                return ReconcileResult(
                    .done,
                    status: BundleStatus(
                        condition: .init(
                            .bundleStaged, false, reason: "WorkspaceDeleted", message: "the bundle is scheduled for deletion")),
                    events: deleted
                        ? [
                            .normal(
                                "BundleDeleted",
                                "the bundle is scheduled for deletion (recovery window \(recoveryWindowDays) days)")
                        ] : [])
            }
            let bundle = try derive(inputs)
            let (hash, runtimeHash) = (bundle.hash, bundle.runtimeHash)
            let (version, wrote, restored) = try await stage(bundle, hash: hash, name: name, request)
            let staged = BundleStatus.Staged(
                hash: hash, runtimeHash: runtimeHash, generation: bundle.instanceGeneration,
                version: version)
            let message = "bundle for instance generation \(bundle.instanceGeneration) is staged"
            return ReconcileResult(
                .done,
                status: BundleStatus(
                    staged: staged,
                    condition: .init(
                        .bundleStaged, true, reason: "Staged",
                        message: message)),
                events: (restored
                    ? [.normal("BundleRestored", "the bundle's name was scheduled for deletion; restored before staging")] : [])
                    + (wrote ? [.normal("BundleStaged", "\(message) (version \(version ?? "?"))")] : []))
        } catch let failure as ReconcileFailure {
            return failed(.terminal(failure))
        } catch let error as ProviderError {
            return failed(.failed(error))
        }
    }

    /// A failure, with the BundleStaged condition and last_error that say it.
    private func failed(_ outcome: ReconcileOutcome) -> ReconcileResult {
        let failure = outcome.failure!
        return ReconcileResult(
            outcome,
            status: BundleStatus(
                condition: .init(
                    .bundleStaged, false, reason: failure.reason,
                    message: failure.message),
                error: failure.message))
    }

    /// The bundle the source of truth asks for; a template that cannot be delivered is a
    /// terminal failure (retrying will not fix it; editing the template will).
    private func derive(_ inputs: BundleStore.Inputs) throws -> WorkspaceBundle {
        guard let files = inputs.templateFiles else {
            throw ReconcileFailure(
                reason: "InvalidTemplate",
                message: "template '\(inputs.template ?? "")': files must map each path to text")
        }
        var org: [String: WorkspaceBundle.Secret] = [:]
        var own: [String: WorkspaceBundle.Secret] = [:]
        for secret in inputs.secrets {
            let value = WorkspaceBundle.Secret(value: secret.value, runtimeConsumed: secret.runtimeConsumed)
            if secret.scope == "org" { org[secret.key] = value } else { own[secret.key] = value }
        }
        let token = InstanceToken.derive(
            seed: inputs.tokenSeed, workspaceID: inputs.workspaceID,
            generation: inputs.targetGeneration)
        do {
            return try WorkspaceBundle(
                instanceGeneration: inputs.targetGeneration, templateFiles: files,
                orgSecrets: org, workspaceSecrets: own, instanceToken: token,
                bootPlugins: inputs.bootPlugins)
        } catch let rejection as TemplateFiles.Rejection {
            throw ReconcileFailure(reason: "InvalidTemplate", message: "template '\(inputs.template ?? "")': \(rejection)")
        }
    }

    /// Puts the bundle unless the store already holds it; restores a name scheduled for
    /// deletion first, including when the deletion lands between our describe and our put.
    /// Returns the version the store holds, whether this pass wrote it, and whether it restored
    /// the name first.
    private func stage(
        _ bundle: WorkspaceBundle, hash: String, name: String,
        _ request: ReconcileRequest
    ) async throws -> (version: String?, wrote: Bool, restored: Bool) {
        request.actions.record("secret_store.describe", mutating: false)
        let described = try await store.describe(name: name)
        if let described, !described.scheduledForDeletion, described.contentHash == hash {
            return (described.currentVersion, false, false)
        }
        let scheduled = described?.scheduledForDeletion == true
        if scheduled { try await restore(name, request) }
        do {
            return (try await put(bundle, hash: hash, name: name, request), true, scheduled)
        } catch let error as ProviderError where error.kind == .scheduledForDeletion {
            try await restore(name, request)
            return (try await put(bundle, hash: hash, name: name, request), true, true)
        }
    }

    private func put(_ bundle: WorkspaceBundle, hash: String, name: String, _ request: ReconcileRequest) async throws -> String {
        try Task.checkCancellation()
        request.actions.record("secret_store.put", mutating: true)
        return try await store.put(
            name: name, value: bundle.canonicalData, contentHash: hash,
            versionToken: bundle.versionToken(workspaceID: request.key))
    }

    private func restore(_ name: String, _ request: ReconcileRequest) async throws {
        request.actions.record("secret_store.restore", mutating: true)
        do {
            try await store.restore(name: name)
        } catch let error as ProviderError {
            throw ProviderError(
                error.kind, provider: error.provider, operation: "restore",
                message: "name scheduled for deletion, restore failed: \(error.message)")
        }
    }

    /// Whether it deleted the bundle now (false: there was none, or it was already scheduled).
    private func deleteBundle(_ name: String, _ request: ReconcileRequest) async throws -> Bool {
        request.actions.record("secret_store.describe", mutating: false)
        guard let described = try await store.describe(name: name), !described.scheduledForDeletion else { return false }
        request.actions.record("secret_store.delete", mutating: true)
        try await store.delete(name: name, recoveryWindowDays: recoveryWindowDays)
        return true
    }
}
