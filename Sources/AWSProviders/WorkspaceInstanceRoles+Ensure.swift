import Foundation
import Providers

extension WorkspaceInstanceRoles {
    /// Makes the workspace's role, its policy and its instance profile exist as they should;
    /// returns the profile's name for RunInstances. Every step reads first and writes only a
    /// difference, so a workspace whose role is in place costs four reads.
    func ensure(workspaceID: String, owner: String, secretName: String) async throws -> String {
        let name = name(workspaceID: workspaceID, owner: owner)
        let role = try await ensureRole(name, workspaceID: workspaceID, owner: owner)
        guard let arn = role.value("Arn"), case let parts = arn.split(separator: ":", omittingEmptySubsequences: false),
            parts.count >= 6, !parts[4].isEmpty
        else {
            throw ProviderError(
                .transient, provider: Self.provider, operation: "GetRole", message: "the role \(name) was answered without an ARN"
            )
        }
        let policy = bundlePolicy(partition: String(parts[1]), account: String(parts[4]), secretName: secretName)
        try await ensurePolicy(name, policy)
        try await ensureProfile(name, workspaceID: workspaceID, owner: owner)
        return name
    }

    /// The role, created when missing (a lost CreateRole answer is adopted), its boundary set
    /// when it differs. A role of this name tagged with another owner is refused, never taken.
    private func ensureRole(_ name: String, workspaceID: String, owner: String) async throws -> XMLElementNode {
        var role = try await read("GetRole", [("RoleName", name)])?.child("GetRoleResult")?.child("Role")
        if role == nil {
            var parameters: [(String, String)] = [
                ("RoleName", name), ("Path", Self.path), ("AssumeRolePolicyDocument", Self.trustPolicy),
                ("Description", "molecule workspace \(workspaceID): reads its own bundle secret only"),
            ]
            if let permissionsBoundary { parameters.append(("PermissionsBoundary", permissionsBoundary)) }
            do {
                role = try await iam.call("CreateRole", parameters + Self.tagParameters(owner: owner, workspaceID: workspaceID))
                    .child("CreateRoleResult")?.child("Role")
            } catch let error as ProviderError where Self.isAlreadyExists(error) {
                role = try await read("GetRole", [("RoleName", name)])?.child("GetRoleResult")?.child("Role")
            }
        }
        guard let role else {
            throw ProviderError(
                .transient, provider: Self.provider, operation: "GetRole", message: "the role \(name) is not visible yet")
        }
        if let other = Self.tags(role)[Self.ownerTag], other != owner {
            throw ProviderError(
                .invalid, provider: Self.provider, operation: "GetRole",
                message: "the IAM role \(name) is tagged with another owner; not adopting it")
        }
        if let permissionsBoundary, role.value("PermissionsBoundary/PermissionsBoundaryArn") != permissionsBoundary {
            _ = try await iam.call(
                "PutRolePermissionsBoundary", [("RoleName", name), ("PermissionsBoundary", permissionsBoundary)])
        }
        return role
    }

    /// The inline policy, written only when missing or different.
    private func ensurePolicy(_ name: String, _ policy: String) async throws {
        let current = try await read("GetRolePolicy", [("RoleName", name), ("PolicyName", Self.policyName)])?
            .value("GetRolePolicyResult/PolicyDocument")
        if let current, let parsed = Self.parsedPolicy(current), parsed == Self.parsedPolicy(policy) { return }
        _ = try await iam.call(
            "PutRolePolicy", [("RoleName", name), ("PolicyName", Self.policyName), ("PolicyDocument", policy)])
    }

    /// The instance profile holding exactly the role.
    private func ensureProfile(_ name: String, workspaceID: String, owner: String) async throws {
        var profile = try await read("GetInstanceProfile", [("InstanceProfileName", name)])?
            .child("GetInstanceProfileResult")?.child("InstanceProfile")
        if profile == nil {
            do {
                profile = try await iam.call(
                    "CreateInstanceProfile",
                    [("InstanceProfileName", name), ("Path", Self.path)]
                        + Self.tagParameters(owner: owner, workspaceID: workspaceID)
                ).child("CreateInstanceProfileResult")?.child("InstanceProfile")
            } catch let error as ProviderError where Self.isAlreadyExists(error) {
                profile = try await read("GetInstanceProfile", [("InstanceProfileName", name)])?
                    .child("GetInstanceProfileResult")?.child("InstanceProfile")
            }
        }
        let roles = (profile?.members("Roles") ?? []).compactMap { $0.value("RoleName") }
        for other in roles where other != name {
            try await delete("RemoveRoleFromInstanceProfile", [("InstanceProfileName", name), ("RoleName", other)])
        }
        if !roles.contains(name) {
            _ = try await iam.call("AddRoleToInstanceProfile", [("InstanceProfileName", name), ("RoleName", name)])
        }
    }
}
