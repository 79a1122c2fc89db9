import Foundation
import Providers

/// The compute boundary on EC2: one instance per workspace generation.
///
/// - `create` first lists the workspace's instances by tag and returns the one of this
///   generation if there is one (a retry after a lost response adopts it: moto ignores
///   `ClientToken`, so this is what carries idempotency there), then `RunInstances` with
///   `ClientToken = <workspace>-g<generation>` (AWS's own guard against a concurrent retry),
///   tagged `molecule:owner`, `molecule:workspace`, `molecule:generation`.
/// - User data names the bundle (secret name, the version ID staged for the generation, the
///   region and the generation it must carry) and never holds a value: user data is readable
///   from the instance metadata service and the API.
/// - `list` is `DescribeInstances` by tag, every page; terminated instances are listed while
///   EC2 shows them. `terminate` is idempotent (EC2's own).
/// - Each workspace's instances run with the workspace's own instance profile, whose role may
///   read that workspace's bundle secret and nothing else (`WorkspaceInstanceRoles`): ensured
///   before RunInstances, released when the workspace is deleted.
/// - Health does not come from here: on EC2 the instances controller reads the heartbeats the
///   platform writes (no probe).
public struct EC2InstanceProvider: InstanceProvider {
    static let provider = "instances"
    static let workspaceTag = "molecule:workspace"
    static let generationTag = "molecule:generation"
    static let ownerTag = "molecule:owner"

    let api: EC2API
    public let settings: EC2Settings
    let region: String
    let roles: WorkspaceInstanceRoles

    /// - Parameter iam: the IAM client (global, signed for `us-east-1`) for the workspace roles.
    public init(client: AWSServiceClient, iam: AWSServiceClient, settings: EC2Settings, region: String) {
        self.api = EC2API(client: client)
        self.settings = settings
        self.region = region
        self.roles = WorkspaceInstanceRoles(
            iam: IAMAPI(client: iam), prefix: settings.rolePrefix, permissionsBoundary: settings.permissionsBoundary,
            region: region)
    }

    public func create(_ spec: InstanceSpec) async throws -> InstanceRecord {
        if let existing = try await list(workspaceID: spec.workspaceID).first(where: { $0.generation == spec.generation }) {
            return existing
        }
        let profile = try await roles.ensure(workspaceID: spec.workspaceID, owner: spec.owner, secretName: spec.bundleName)
        let root: XMLElementNode
        do {
            root = try await api.call("RunInstances", runParameters(spec) + [("IamInstanceProfile.Name", profile)])
        } catch let error as ProviderError where Self.isProfileNotVisibleYet(error) {
            // IAM is eventually consistent: EC2 may not see a profile created a moment ago.
            throw ProviderError(
                .transient, provider: Self.provider, operation: "RunInstances",
                message: "the instance profile \(profile) is not visible to EC2 yet (IAM propagation); retried: \(error.message)")
        }
        guard let item = root.items("instancesSet").first, let record = Self.record(item, port: settings.runtimePort) else {
            throw ProviderError(
                .transient, provider: Self.provider, operation: "create", message: "RunInstances answered without an instance")
        }
        return record
    }

    public func list(workspaceID: String) async throws -> [InstanceRecord] {
        try await describe(filter: ("tag:\(Self.workspaceTag)", workspaceID))
    }

    public func listAll(owner: String) async throws -> [InstanceRecord] {
        try await describe(filter: ("tag:\(Self.ownerTag)", owner))
    }

    public func terminate(instanceID: String) async throws {
        _ = try await api.call("TerminateInstances", [("InstanceId.1", instanceID)])
    }

    public func release(workspaceID: String, owner: String) async throws -> Bool {
        try await roles.release(workspaceID: workspaceID, owner: owner)
    }

    public func heldWorkspaces(owner: String) async throws -> [String] {
        try await roles.held(owner: owner)
    }

    /// `InvalidParameterValue` naming the instance profile: AWS's answer while a new profile
    /// propagates.
    static func isProfileNotVisibleYet(_ error: ProviderError) -> Bool {
        error.message.hasPrefix("InvalidParameterValue") && error.message.lowercased().contains("iaminstanceprofile")
    }

    /// Every instance matching the tag filter, following `nextToken`.
    func describe(filter: (String, String)) async throws -> [InstanceRecord] {
        var records: [InstanceRecord] = []
        var next: String?
        repeat {
            var parameters = [
                ("Filter.1.Name", filter.0), ("Filter.1.Value.1", filter.1), ("MaxResults", String(settings.pageSize)),
            ]
            if let next { parameters.append(("NextToken", next)) }
            let root = try await api.call("DescribeInstances", parameters)
            for reservation in root.items("reservationSet") {
                records += reservation.items("instancesSet").compactMap { Self.record($0, port: settings.runtimePort) }
            }
            next = root.value("nextToken").flatMap { $0.isEmpty ? nil : $0 }
        } while next != nil
        return records.sorted { ($0.generation, $0.id) < ($1.generation, $1.id) }
    }

    /// An instance item of RunInstances or DescribeInstances; nil when it lacks our tags.
    static func record(_ item: XMLElementNode, port: Int) -> InstanceRecord? {
        var tags: [String: String] = [:]
        for tag in item.items("tagSet") {
            if let key = tag.value("key") { tags[key] = tag.value("value") ?? "" }
        }
        guard let id = item.value("instanceId"), let workspace = tags[workspaceTag],
            let generation = tags[generationTag].flatMap(Int64.init)
        else { return nil }
        let state = item.value("instanceState/name").flatMap(InstanceState.init(rawValue:)) ?? .pending
        let ip = item.value("privateIpAddress").flatMap { $0.isEmpty ? nil : $0 }
        return InstanceRecord(
            id: id, workspaceID: workspace, generation: generation,
            idempotencyToken: InstanceSpec.idempotencyToken(workspaceID: workspace, generation: generation), state: state,
            address: state == .running ? ip.map { "\($0):\(port)" } : nil)
    }
}
