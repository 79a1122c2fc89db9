import Foundation
import Providers

/// The EC2 Query API (Version 2016-11-15): form-encoded POSTs (RFC 3986 encoding, the same as
/// the signer's), XML answers.
struct EC2API: Sendable {
    static let version = "2016-11-15"
    let client: AWSServiceClient

    func call(_ action: String, _ parameters: [(String, String)]) async throws -> XMLElementNode {
        let all = [("Action", action), ("Version", Self.version)] + parameters
        let body = all.map { "\(SigV4Signer.percentEncode($0.0))=\(SigV4Signer.percentEncode($0.1))" }.joined(separator: "&")
        let data = try await client.post(
            operation: action, headers: ["Content-Type": "application/x-www-form-urlencoded; charset=utf-8"],
            body: Data(body.utf8))
        guard let root = XMLElementNode.parse(data) else {
            throw ProviderError(.transient, provider: client.providerName, operation: action, message: "the answer is not XML")
        }
        return root
    }
}
