import Foundation
import Providers

extension SecretsManagerStore {
    /// `PutSecretValue`; the version's staging labels.
    func putValue(name: String, payload: [String: Any]) async throws -> [String] {
        var parameters = payload
        parameters["SecretId"] = name
        do {
            let answer = try await mapDeletion("put", name) { try await api.call("PutSecretValue", parameters) }
            return answer["VersionStages"] as? [String] ?? []
        } catch let error as ProviderError where error.kind == .invalid && error.message.hasPrefix("ResourceExistsException") {
            throw ProviderError(
                .idempotencyMismatch, provider: Self.provider, operation: "put",
                message: "version \(payload["ClientRequestToken"] ?? "") of \(name) exists with other content")
        }
    }

    /// `CreateSecret` with the first version and its tags. Returns false when the name exists
    /// after all (another writer created it meanwhile): put a version instead. Throws
    /// `.scheduledForDeletion` for a name in its recovery window.
    func create(name: String, payload: [String: Any], contentHash: String, versionToken: String) async throws -> Bool {
        var parameters = payload
        parameters["Name"] = name
        var all = tags
        all[Self.hashTag] = contentHash
        all[Self.versionTag] = versionToken
        parameters["Tags"] = Self.tagList(all)
        do {
            _ = try await mapDeletion("create", name) { try await api.call("CreateSecret", parameters) }
            return true
        } catch let error as ProviderError where error.kind == .invalid && error.message.hasPrefix("ResourceExistsException") {
            // moto's answer for a name scheduled for deletion, and AWS's for a name that exists.
            if try await describe(name: name)?.scheduledForDeletion == true {
                throw ProviderError(
                    .scheduledForDeletion, provider: Self.provider, operation: "create",
                    message: "name \(name) is scheduled for deletion")
            }
            return false
        }
    }

    /// Moves `AWSCURRENT` to `version` (a put that matched an existing, older version).
    func makeCurrent(name: String, version: String) async throws {
        var parameters: [String: Any] = ["SecretId": name, "VersionStage": "AWSCURRENT", "MoveToVersionId": version]
        if let current = try await describe(name: name)?.currentVersion, current != version {
            parameters["RemoveFromVersionId"] = current
        }
        _ = try await api.call("UpdateSecretVersionStage", parameters)
    }

    /// Runs `call`, turning AWS's "marked for deletion" `InvalidRequestException` into
    /// `.scheduledForDeletion`.
    func mapDeletion(
        _ operation: String, _ name: String, _ call: () async throws -> [String: Any]
    ) async throws -> [String: Any] {
        do {
            return try await call()
        } catch let error as ProviderError where Self.isDeletionMessage(error) {
            throw ProviderError(
                .scheduledForDeletion, provider: Self.provider, operation: operation,
                message: "name \(name) is scheduled for deletion")
        }
    }

    /// `InvalidRequestException` saying the secret is marked (or scheduled) for deletion.
    static func isDeletionMessage(_ error: ProviderError) -> Bool {
        guard error.kind == .invalid, error.message.hasPrefix("InvalidRequestException") else { return false }
        let text = error.message.lowercased()
        return text.contains("deletion") || text.contains("marked deleted")
    }

    static func valueParameters(_ value: Data) -> [String: Any] {
        if let text = String(data: value, encoding: .utf8) { return ["SecretString": text] }
        return ["SecretBinary": value.base64EncodedString()]
    }

    static func tagList(_ tags: [String: String]) -> [[String: String]] {
        tags.sorted { $0.key < $1.key }.map { ["Key": $0.key, "Value": $0.value] }
    }

    static func tags(_ value: Any?) -> [String: String] {
        var tags: [String: String] = [:]
        for entry in value as? [[String: Any]] ?? [] {
            if let key = entry["Key"] as? String, let value = entry["Value"] as? String { tags[key] = value }
        }
        return tags
    }
}
