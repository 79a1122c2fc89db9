import Foundation
import Providers

/// An in-memory secret store with AWS Secrets Manager's lifecycle: versions idempotent per
/// token, deletion with a recovery window during which reads and writes fail with
/// "scheduled for deletion", restore. Counts mutating calls and injects scripted faults.
public actor FakeSecretStore: SecretStore {
    struct Secret {
        var versions: [String: (value: Data, hash: String)] = [:]
        var current: String?
        var deletedAt: Date?
    }

    private var secrets: [String: Secret] = [:]
    private var faults = FaultScript()
    public private(set) var puts = 0
    public private(set) var deletes = 0
    public private(set) var restores = 0

    public init() {}

    public func inject(_ fault: Fault, on operation: String, times: Int = 1) {
        faults.add(fault, on: operation, times: times)
    }

    /// The current value, bypassing faults and the deletion window (for assertions).
    public func peek(name: String) -> Data? {
        secrets[name].flatMap { secret in secret.current.flatMap { secret.versions[$0]?.value } }
    }

    public func describe(name: String) async throws -> SecretDescription? {
        _ = try await faults.next(for: "describe")?.apply(provider: "secret store", operation: "describe")
        guard let secret = secrets[name] else { return nil }
        return SecretDescription(
            name: name, currentVersion: secret.current,
            contentHash: secret.current.flatMap { secret.versions[$0]?.hash },
            scheduledForDeletion: secret.deletedAt != nil)
    }

    public func put(name: String, value: Data, contentHash: String, versionToken: String) async throws -> String {
        let loseResponse = try await faults.next(for: "put")?.apply(provider: "secret store", operation: "put") ?? false
        var secret = secrets[name] ?? Secret()
        guard secret.deletedAt == nil else {
            throw ProviderError(
                .scheduledForDeletion, provider: "secret store", operation: "put",
                message: "name \(name) is scheduled for deletion")
        }
        if let existing = secret.versions[versionToken] {
            guard existing.value == value else {
                throw ProviderError(
                    .idempotencyMismatch, provider: "secret store", operation: "put",
                    message: "version \(versionToken) exists with other content")
            }
        } else {
            secret.versions[versionToken] = (value, contentHash)
            puts += 1
        }
        secret.current = versionToken
        secrets[name] = secret
        if loseResponse {
            throw ProviderError(.timeout, provider: "secret store", operation: "put", message: "no response within the timeout")
        }
        return versionToken
    }

    public func read(name: String) async throws -> Data {
        _ = try await faults.next(for: "read")?.apply(provider: "secret store", operation: "read")
        guard let secret = secrets[name], let current = secret.current, let version = secret.versions[current] else {
            throw ProviderError(.notFound, provider: "secret store", operation: "read", message: "no secret named \(name)")
        }
        guard secret.deletedAt == nil else {
            throw ProviderError(
                .scheduledForDeletion, provider: "secret store", operation: "read",
                message: "name \(name) is scheduled for deletion")
        }
        return version.value
    }

    public func delete(name: String, recoveryWindowDays: Int) async throws {
        _ = try await faults.next(for: "delete")?.apply(provider: "secret store", operation: "delete")
        guard (7...30).contains(recoveryWindowDays) else {
            throw ProviderError(
                .invalid, provider: "secret store", operation: "delete",
                message: "recovery window must be 7 to 30 days, got \(recoveryWindowDays)")
        }
        guard secrets[name] != nil, secrets[name]?.deletedAt == nil else { return }
        secrets[name]?.deletedAt = Date()
        deletes += 1
    }

    public func list(prefix: String) async throws -> [String] {
        _ = try await faults.next(for: "list")?.apply(provider: "secret store", operation: "list")
        return secrets.keys.filter { $0.hasPrefix(prefix) }.sorted()
    }

    public func restore(name: String) async throws {
        _ = try await faults.next(for: "restore")?.apply(provider: "secret store", operation: "restore")
        guard secrets[name] != nil else {
            throw ProviderError(.notFound, provider: "secret store", operation: "restore", message: "no secret named \(name)")
        }
        if secrets[name]?.deletedAt != nil {
            secrets[name]?.deletedAt = nil
            restores += 1
        }
    }
}
