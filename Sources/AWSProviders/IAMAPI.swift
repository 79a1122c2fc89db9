import Foundation

/// The IAM Query API (Version 2010-05-08). IAM is global: requests go to `https://iam.amazonaws.com`
/// (or the endpoint override) and are signed for service `iam` in `us-east-1`, whatever region
/// the other providers use. Lists are `<member>` elements.
struct IAMAPI: Sendable {
    static let version = "2010-05-08"
    /// The region IAM requests are signed for (the global endpoint's).
    static let signingRegion = "us-east-1"
    let client: AWSServiceClient

    func call(_ action: String, _ parameters: [(String, String)]) async throws -> XMLElementNode {
        try await AWSQueryAPI.call(client, version: Self.version, action, parameters)
    }
}

extension XMLElementNode {
    /// The `<member>` children of the child `name` (the Query API lists of IAM).
    func members(_ name: String) -> [XMLElementNode] { child(name)?.children.filter { $0.name == "member" } ?? [] }
}
