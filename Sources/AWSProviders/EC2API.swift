import Foundation
import Providers

/// The EC2 Query API (Version 2016-11-15): form-encoded POSTs (RFC 3986 encoding, the same as
/// the signer's), XML answers.
struct EC2API: Sendable {
    static let version = "2016-11-15"
    let client: AWSServiceClient

    func call(_ action: String, _ parameters: [(String, String)]) async throws -> XMLElementNode {
        try await AWSQueryAPI.call(client, version: Self.version, action, parameters)
    }
}

/// The Query protocol EC2 and IAM share: `Action=<Op>&Version=<version>&...` form-encoded in a
/// signed POST, an XML answer. The encoding is botocore's (`urlencode`): RFC 3986 with a space
/// as `+`. AWS takes either; moto checks the signature over the form it parsed and re-encoded
/// that way, so a `%20` (a role's description, a policy document) would not match there.
enum AWSQueryAPI {
    static func formEncode(_ text: String) -> String {
        SigV4Signer.percentEncode(text).replacingOccurrences(of: "%20", with: "+")
    }

    static func call(
        _ client: AWSServiceClient, version: String, _ action: String, _ parameters: [(String, String)]
    ) async throws -> XMLElementNode {
        let all = [("Action", action), ("Version", version)] + parameters
        let body = all.map { "\(formEncode($0.0))=\(formEncode($0.1))" }.joined(separator: "&")
        let data = try await client.post(
            operation: action, headers: ["Content-Type": "application/x-www-form-urlencoded; charset=utf-8"],
            body: Data(body.utf8))
        guard let root = XMLElementNode.parse(data) else {
            throw ProviderError(.transient, provider: client.providerName, operation: action, message: "the answer is not XML")
        }
        return root
    }
}
