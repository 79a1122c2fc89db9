import Foundation

/// A `SecretStore` whose every call is counted and timed (`ProviderMetrics`).
public struct InstrumentedSecretStore: SecretStore {
    private let wrapped: any SecretStore
    private let metrics: ProviderMetrics

    public init(_ wrapped: any SecretStore, provider: String) {
        self.wrapped = wrapped
        self.metrics = ProviderMetrics(
            provider: provider, operations: ["describe", "put", "read", "delete", "restore", "list"])
    }

    public func describe(name: String) async throws -> SecretDescription? {
        try await metrics.measure("describe") { try await wrapped.describe(name: name) }
    }

    public func put(name: String, value: Data, contentHash: String, versionToken: String) async throws -> String {
        try await metrics.measure("put") {
            try await wrapped.put(name: name, value: value, contentHash: contentHash, versionToken: versionToken)
        }
    }

    public func read(name: String) async throws -> Data {
        try await metrics.measure("read") { try await wrapped.read(name: name) }
    }

    public func delete(name: String, recoveryWindowDays: Int) async throws {
        try await metrics.measure("delete") { try await wrapped.delete(name: name, recoveryWindowDays: recoveryWindowDays) }
    }

    public func restore(name: String) async throws {
        try await metrics.measure("restore") { try await wrapped.restore(name: name) }
    }

    public func list(prefix: String) async throws -> [String] {
        try await metrics.measure("list") { try await wrapped.list(prefix: prefix) }
    }
}
