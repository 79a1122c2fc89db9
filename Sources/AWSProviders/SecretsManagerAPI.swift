import Foundation
import Providers

/// The Secrets Manager JSON protocol (`application/x-amz-json-1.1`,
/// `X-Amz-Target: secretsmanager.<Operation>`): one call, its JSON answer as a dictionary.
/// The success Content-Type is not relied on (moto answers `text/html`).
struct SecretsManagerAPI: Sendable {
    let client: AWSServiceClient

    func call(_ operation: String, _ parameters: [String: Any]) async throws -> [String: Any] {
        let body = try JSONSerialization.data(withJSONObject: parameters, options: [.sortedKeys])
        let data = try await client.post(
            operation: operation,
            headers: ["Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "secretsmanager.\(operation)"],
            body: body)
        guard !data.isEmpty else { return [:] }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ProviderError(
                .transient, provider: client.providerName, operation: operation, message: "the answer is not a JSON object")
        }
        return object
    }
}
