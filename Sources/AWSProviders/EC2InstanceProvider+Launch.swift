import Foundation
import Providers

extension EC2InstanceProvider {
    /// RunInstances' parameters for one launch intent: the same for every retry of it.
    func runParameters(_ spec: InstanceSpec) -> [(String, String)] {
        var parameters: [(String, String)] = [
            ("ImageId", settings.imageID), ("InstanceType", settings.instanceType), ("MinCount", "1"), ("MaxCount", "1"),
            ("ClientToken", spec.idempotencyToken), ("UserData", Data(userData(spec).utf8).base64EncodedString()),
            // IMDSv2 only: user data and the role's credentials need a session token.
            ("MetadataOptions.HttpTokens", "required"),
        ]
        if let subnet = settings.subnetID { parameters.append(("SubnetId", subnet)) }
        for (index, group) in settings.securityGroupIDs.enumerated() {
            parameters.append(("SecurityGroupId.\(index + 1)", group))
        }
        if let key = settings.keyName { parameters.append(("KeyName", key)) }
        var tags = settings.tags.filter { !$0.key.hasPrefix("molecule:") }
        tags[Self.workspaceTag] = spec.workspaceID
        tags[Self.generationTag] = String(spec.generation)
        tags[Self.ownerTag] = spec.owner
        tags["Name"] = tags["Name"] ?? "molecule-\(spec.idempotencyToken)"
        for (number, resource) in ["instance", "volume"].enumerated() {
            let prefix = "TagSpecification.\(number + 1)"
            parameters.append(("\(prefix).ResourceType", resource))
            for (index, tag) in tags.sorted(by: { $0.key < $1.key }).enumerated() {
                parameters.append(("\(prefix).Tag.\(index + 1).Key", tag.key))
                parameters.append(("\(prefix).Tag.\(index + 1).Value", tag.value))
            }
        }
        return parameters
    }

    /// The boot script: which bundle to fetch — the secret and the version staged for this
    /// generation (`GetSecretValue` with that `VersionId`: a later bundle never reaches an
    /// instance launched for an earlier one), or its `AWSCURRENT` stage when the spec names no
    /// version — and which generation it must carry. Names only: no secret value, no
    /// credential (the instance profile provides those).
    func userData(_ spec: InstanceSpec) -> String {
        let version =
            spec.bundleVersion.map { ("MOLECULE_BUNDLE_VERSION_ID", $0) } ?? ("MOLECULE_BUNDLE_VERSION_STAGE", "AWSCURRENT")
        let variables = [
            ("MOLECULE_WORKSPACE_ID", spec.workspaceID), ("MOLECULE_GENERATION", String(spec.generation)),
            ("MOLECULE_IMAGE", spec.image), ("MOLECULE_BUNDLE_SECRET", spec.bundleName), version,
            ("MOLECULE_RUNTIME_PORT", String(settings.runtimePort)), ("AWS_REGION", region),
        ]
        return
            (["#!/bin/sh", "# molecule workspace boot: names its bundle, holds no secret"]
            + variables.map { "export \($0.0)=\(Self.shellQuoted($0.1))" }
            + ["exec \(settings.bootCommand)"]).joined(separator: "\n") + "\n"
    }

    static func shellQuoted(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: #"'\''"#) + "'"
    }
}
