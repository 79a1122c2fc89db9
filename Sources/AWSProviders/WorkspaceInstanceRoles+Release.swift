import Foundation
import Providers

extension WorkspaceInstanceRoles {
    /// Deletes the workspace's instance profile and role in the order IAM requires (roles out of
    /// the profile, the profile; the inline policy, the role). `NoSuchEntity` anywhere means
    /// done; a released workspace costs two reads. Returns whether anything was deleted.
    func release(workspaceID: String, owner: String) async throws -> Bool {
        let name = name(workspaceID: workspaceID, owner: owner)
        var mutated = false
        if let profile = try await read("GetInstanceProfile", [("InstanceProfileName", name)])?
            .child("GetInstanceProfileResult")?.child("InstanceProfile")
        {
            for role in profile.members("Roles").compactMap({ $0.value("RoleName") }) {
                try await delete("RemoveRoleFromInstanceProfile", [("InstanceProfileName", name), ("RoleName", role)])
            }
            try await delete("DeleteInstanceProfile", [("InstanceProfileName", name)])
            mutated = true
        }
        if try await read("GetRole", [("RoleName", name)]) != nil {
            try await delete("DeleteRolePolicy", [("RoleName", name), ("PolicyName", Self.policyName)])
            try await delete("DeleteRole", [("RoleName", name)])
            mutated = true
        }
        return mutated
    }

    /// The workspaces of this owner that have a role or an instance profile: `ListRoles` and
    /// `ListInstanceProfiles` under `/molecule/`, every page; the workspace from the name, or from
    /// the role's tags when the name holds a hash.
    func held(owner: String) async throws -> [String] {
        let stem = ownerStem(owner: owner)
        var names = Set<String>()
        for (action, list, field) in [
            ("ListRoles", "Roles", "RoleName"), ("ListInstanceProfiles", "InstanceProfiles", "InstanceProfileName"),
        ] {
            var marker: String?
            repeat {
                var parameters = [("PathPrefix", Self.path), ("MaxItems", "1000")]
                if let marker { parameters.append(("Marker", marker)) }
                let result = try await iam.call(action, parameters).child("\(action)Result")
                for member in result?.members(list) ?? [] {
                    if let name = member.value(field), name.hasPrefix(stem) { names.insert(name) }
                }
                marker = result?.value("IsTruncated") == "true" ? result?.value("Marker") : nil
            } while marker != nil
        }
        var workspaces = Set<String>()
        for name in names {
            let rest = name.dropFirst(stem.count)
            if rest.hasPrefix("-") {
                workspaces.insert(String(rest.dropFirst()))
            } else if let tags = try await read("ListRoleTags", [("RoleName", name)]),
                let workspace = Self.tags(tags.child("ListRoleTagsResult"))[Self.workspaceTag]
            {
                workspaces.insert(workspace)
            }
        }
        return workspaces.sorted()
    }
}
