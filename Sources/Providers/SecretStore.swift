import Foundation

/// The secret-store boundary (AWS Secrets Manager, the local file store): one secret per
/// workspace bundle, versioned, deleted with a recovery window.
public protocol SecretStore: Sendable {
    /// nil when no secret has this name (a name scheduled for deletion is described, with
    /// `scheduledForDeletion` set).
    func describe(name: String) async throws -> SecretDescription?
    /// Creates the secret or adds a version; idempotent per `versionToken` (the same token with
    /// the same value does nothing). Throws `.scheduledForDeletion` on a name in its recovery
    /// window: restore it first.
    func put(name: String, value: Data, contentHash: String, versionToken: String) async throws -> String
    /// The current value. Throws `.scheduledForDeletion` during the recovery window.
    func read(name: String) async throws -> Data
    /// Schedules deletion after a recovery window (a repeat is not an error).
    func delete(name: String, recoveryWindowDays: Int) async throws
    /// Cancels a scheduled deletion.
    func restore(name: String) async throws
    /// The names of the secrets that start with `prefix`, those scheduled for deletion included
    /// (for finding the bundles of workspaces that no longer exist).
    func list(prefix: String) async throws -> [String]
}

public struct SecretDescription: Sendable, Equatable {
    public var name: String
    public var currentVersion: String?
    /// The content hash recorded with the current version.
    public var contentHash: String?
    public var scheduledForDeletion: Bool

    public init(name: String, currentVersion: String?, contentHash: String?, scheduledForDeletion: Bool) {
        self.name = name
        self.currentVersion = currentVersion
        self.contentHash = contentHash
        self.scheduledForDeletion = scheduledForDeletion
    }
}
