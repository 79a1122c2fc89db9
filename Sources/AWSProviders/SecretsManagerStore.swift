import CurlHTTP
import Foundation
import Providers

/// The secret-store boundary on AWS Secrets Manager: one secret per workspace bundle.
///
/// - A put is `PutSecretValue` with `ClientRequestToken` = the bundle's version token (derived
///   from workspace, generation and content hash: a retry is a no-op), or `CreateSecret` for a
///   new name; then the secret's tags `molecule:content-hash` and `molecule:content-version`
///   record which version carries which hash. `describe` trusts the hash tag only when its
///   version is the one labelled `AWSCURRENT`, so a put whose tagging was lost is redone (a
///   no-op put, then the tags). A put that found its version already present but not current
///   (a value that went A→B→A within one generation) moves `AWSCURRENT` back to it.
/// - A name in its recovery window answers `.scheduledForDeletion` (AWS: `InvalidRequestException`
///   on put and create; moto: `ResourceExistsException` on create), which the controller answers
///   with `restore` and a second put (seed 000).
/// - Values over 64 KiB (Secrets Manager's limit) are refused before any call.
public struct SecretsManagerStore: SecretStore {
    /// Secrets Manager's limit on a secret value, bytes.
    public static let maximumValueBytes = 65_536
    static let hashTag = "molecule:content-hash"
    static let versionTag = "molecule:content-version"
    static let ownerTag = "molecule:owner"
    static let provider = "secret store"

    let api: SecretsManagerAPI
    /// Tags every secret created carries (environment, cost allocation...).
    public var tags: [String: String]
    /// See `SecretsManagerSettings.owner`.
    public var owner: String?

    public init(client: AWSServiceClient, tags: [String: String] = [:], owner: String? = nil) {
        self.api = SecretsManagerAPI(client: client)
        self.tags = tags
        self.owner = owner
        if let owner { self.tags[Self.ownerTag] = owner }
    }

    public func describe(name: String) async throws -> SecretDescription? {
        let answer: [String: Any]
        do {
            answer = try await api.call("DescribeSecret", ["SecretId": name])
        } catch let error as ProviderError where error.kind == .notFound {
            return nil
        }
        let stages = answer["VersionIdsToStages"] as? [String: [String]] ?? [:]
        let current = stages.first { $0.value.contains("AWSCURRENT") }?.key
        let tags = Self.tags(answer["Tags"])
        let hash = tags[Self.versionTag] == current && current != nil ? tags[Self.hashTag] : nil
        return SecretDescription(
            name: name, currentVersion: current, contentHash: hash,
            scheduledForDeletion: answer["DeletedDate"].map { !($0 is NSNull) } ?? false)
    }

    public func put(name: String, value: Data, contentHash: String, versionToken: String) async throws -> String {
        guard value.count <= Self.maximumValueBytes else {
            throw ProviderError(
                .invalid, provider: Self.provider, operation: "put",
                message:
                    "the bundle of \(name) is \(value.count) bytes; Secrets Manager stores at most \(Self.maximumValueBytes) bytes per secret value"
            )
        }
        guard (32...64).contains(versionToken.count) else {
            throw ProviderError(
                .invalid, provider: Self.provider, operation: "put", message: "version tokens must be 32-64 characters")
        }
        var payload = Self.valueParameters(value)
        payload["ClientRequestToken"] = versionToken
        let stages: [String]
        do {
            stages = try await putValue(name: name, payload: payload)
        } catch let error as ProviderError where error.kind == .notFound {
            if try await create(name: name, payload: payload, contentHash: contentHash, versionToken: versionToken) {
                return versionToken
            }
            stages = try await putValue(name: name, payload: payload)
        }
        if !stages.contains("AWSCURRENT") { try await makeCurrent(name: name, version: versionToken) }
        _ = try await api.call(
            "TagResource",
            ["SecretId": name, "Tags": Self.tagList([Self.hashTag: contentHash, Self.versionTag: versionToken])])
        return versionToken
    }

    public func read(name: String) async throws -> Data {
        let answer = try await mapDeletion("read", name) {
            try await api.call("GetSecretValue", ["SecretId": name, "VersionStage": "AWSCURRENT"])
        }
        if let text = answer["SecretString"] as? String { return Data(text.utf8) }
        if let binary = answer["SecretBinary"] as? String, let data = Data(base64Encoded: binary) { return data }
        throw ProviderError(.notFound, provider: Self.provider, operation: "read", message: "\(name) has no current value")
    }

    public func delete(name: String, recoveryWindowDays: Int) async throws {
        guard (7...30).contains(recoveryWindowDays) else {
            throw ProviderError(
                .invalid, provider: Self.provider, operation: "delete",
                message: "recovery window must be 7 to 30 days, got \(recoveryWindowDays)")
        }
        guard let described = try await describe(name: name), !described.scheduledForDeletion else { return }
        do {
            _ = try await api.call("DeleteSecret", ["SecretId": name, "RecoveryWindowInDays": recoveryWindowDays])
        } catch let error as ProviderError where error.kind == .notFound || Self.isDeletionMessage(error) {
            return  // deleted meanwhile, or already scheduled: the outcome asked for
        }
    }

    public func restore(name: String) async throws {
        _ = try await api.call("RestoreSecret", ["SecretId": name])
    }

    public func list(prefix: String) async throws -> [String] {
        var names: [String] = []
        var next: String?
        repeat {
            var parameters: [String: Any] = [
                "IncludePlannedDeletion": true, "MaxResults": 100,
                "Filters": [["Key": "name", "Values": [prefix]]],
            ]
            if let next { parameters["NextToken"] = next }
            let answer = try await api.call("ListSecrets", parameters)
            for entry in answer["SecretList"] as? [[String: Any]] ?? [] {
                guard let name = entry["Name"] as? String, name.hasPrefix(prefix) else { continue }
                if let owner, Self.tags(entry["Tags"])[Self.ownerTag] != owner { continue }
                names.append(name)
            }
            next = answer["NextToken"] as? String
        } while next != nil
        return names.sorted()
    }
}
