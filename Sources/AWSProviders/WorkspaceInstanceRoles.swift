import Crypto
import Foundation
import Providers
import ReconcileRuntime

/// One IAM role and one instance profile per workspace, so that each EC2 instance can read its
/// own workspace's bundle secret and nothing else (issue 17: "workspaces cannot read each
/// other"). Both are named `<prefix><owner hash>-<workspace>` under the path `/molecule/`,
/// tagged `molecule:owner` and `molecule:workspace`; the role trusts `ec2.amazonaws.com` only
/// and carries one inline policy, `molecule-bundle`, allowing `secretsmanager:GetSecretValue`
/// and `DescribeSecret` on exactly the workspace's secret:
/// `arn:<partition>:secretsmanager:<region>:<account>:secret:<name>-??????` (the six `?` are
/// the random suffix Secrets Manager appends to every secret's ARN; they match that one name
/// and no longer one, and keep matching if the secret is recreated after its recovery window).
///
/// `ensure` reads before it writes (a converged workspace costs reads only) and adopts what a
/// lost response created (`EntityAlreadyExists`); `release` undoes it in the order IAM requires
/// and treats `NoSuchEntity` as done. IAM is global: its client signs for `us-east-1`.
struct WorkspaceInstanceRoles: Sendable {
    static let path = "/molecule/"
    static let policyName = "molecule-bundle"
    static let ownerTag = "molecule:owner"
    static let workspaceTag = "molecule:workspace"
    static let provider = "instances"
    /// IAM's limit on role names (profiles allow 128; one name serves both).
    static let maximumNameLength = 64

    let iam: IAMAPI
    let prefix: String
    let permissionsBoundary: String?
    /// Where the workspace's secret lives: the region of the instances (their user data names it).
    let region: String

    /// Refuses a prefix IAM would refuse, naming the setting.
    static func validate(prefix: String) throws {
        let allowed = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+=,.@_-")
        guard (1...16).contains(prefix.count), prefix.allSatisfy(allowed.contains) else {
            throw AWSConfigurationError(
                setting: "ec2.rolePrefix", reason: "must be 1 to 16 of A-Z a-z 0-9 + = , . @ _ -, got '\(prefix)'")
        }
    }

    /// `<prefix><10 hex of sha256(owner)>`: every name of this owner starts with it.
    func ownerStem(owner: String) -> String {
        prefix + Hex.string(SHA256.hash(data: Data(owner.utf8))).prefix(10)
    }

    /// `<stem>-<workspace>` when the workspace ID is made of `a-z 0-9 -` and fits (a UUID does),
    /// else `<stem>_<hash of the ID>` (the sweep then reads the workspace from the role's tags).
    func name(workspaceID: String, owner: String) -> String {
        let stem = ownerStem(owner: owner)
        let plain = workspaceID.allSatisfy { ($0.isASCII && ($0.isLowercase || $0.isNumber)) || $0 == "-" }
        if plain, !workspaceID.isEmpty, stem.count + 1 + workspaceID.count <= Self.maximumNameLength {
            return "\(stem)-\(workspaceID)"
        }
        let hash = Hex.string(SHA256.hash(data: Data(workspaceID.utf8)))
        return "\(stem)_\(hash.prefix(Self.maximumNameLength - stem.count - 1))"
    }

    /// The secret ARN pattern the role may read: the name and Secrets Manager's six-character suffix.
    func secretResource(partition: String, account: String, secretName: String) -> String {
        "arn:\(partition):secretsmanager:\(region):\(account):secret:\(secretName)-??????"
    }

    /// The inline policy: read this one secret, nothing else.
    func bundlePolicy(partition: String, account: String, secretName: String) -> String {
        Self.json([
            "Version": "2012-10-17",
            "Statement": [
                [
                    "Sid": "ReadOwnBundleOnly", "Effect": "Allow",
                    "Action": ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"],
                    "Resource": secretResource(partition: partition, account: account, secretName: secretName),
                ] as [String: Any]
            ],
        ])
    }

    /// Only EC2 may assume the role.
    static let trustPolicy = json([
        "Version": "2012-10-17",
        "Statement": [
            [
                "Effect": "Allow", "Principal": ["Service": "ec2.amazonaws.com"], "Action": "sts:AssumeRole",
            ] as [String: Any]
        ],
    ])

    static func json(_ object: [String: Any]) -> String {
        let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }

    /// A policy document as IAM returns it (URL-encoded by AWS, plain by moto), parsed.
    static func parsedPolicy(_ text: String) -> NSDictionary? {
        let plain = text.hasPrefix("%") ? (text.removingPercentEncoding ?? text) : text
        return (try? JSONSerialization.jsonObject(with: Data(plain.utf8))) as? NSDictionary
    }

    /// `Tags.member.N.Key/Value` parameters.
    static func tagParameters(owner: String, workspaceID: String) -> [(String, String)] {
        [(ownerTag, owner), (workspaceTag, workspaceID)].enumerated().flatMap { index, tag in
            [("Tags.member.\(index + 1).Key", tag.0), ("Tags.member.\(index + 1).Value", tag.1)]
        }
    }

    static func tags(_ node: XMLElementNode?) -> [String: String] {
        (node?.members("Tags") ?? []).reduce(into: [:]) { tags, member in
            if let key = member.value("Key") { tags[key] = member.value("Value") ?? "" }
        }
    }

    /// The answer of a read, or nil when IAM says `NoSuchEntity`.
    func read(_ action: String, _ parameters: [(String, String)]) async throws -> XMLElementNode? {
        do {
            return try await iam.call(action, parameters)
        } catch let error as ProviderError where error.kind == .notFound {
            return nil
        }
    }

    /// A deletion whose `NoSuchEntity` means it is already done.
    func delete(_ action: String, _ parameters: [(String, String)]) async throws {
        do {
            _ = try await iam.call(action, parameters)
        } catch let error as ProviderError where error.kind == .notFound {
            return
        }
    }

    static func isAlreadyExists(_ error: ProviderError) -> Bool { error.message.hasPrefix("EntityAlreadyExists") }
}
