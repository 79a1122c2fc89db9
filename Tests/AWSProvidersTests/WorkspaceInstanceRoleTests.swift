import CurlHTTP
import Foundation
import Providers
import Synchronization
import Testing

@testable import AWSProviders

/// Each EC2 instance gets its own workspace's role, which may read that workspace's bundle
/// secret and nothing else, read back through the IAM API of moto (signatures checked). Moto
/// issues no instance credentials and does not evaluate an instance role's policy, so the proof
/// is the policy documents: the instance's profile, its one role, that role's one policy and
/// the one resource in it, matched against the real ARNs of the workspace's and another
/// workspace's secrets.
@Suite("Workspace instance roles (moto)")
struct WorkspaceInstanceRoleTests {
    static let owner = "pg:roles-test"

    static func spec(_ workspace: String, generation: Int64 = 1) -> InstanceSpec {
        InstanceSpec(
            workspaceID: workspace, generation: generation, image: "agent:1", bundleName: secretName(workspace), owner: owner)
    }

    static func secretName(_ workspace: String) -> String { "molecule/workspace/\(workspace)/config" }

    static func workspace() -> String { UUID().uuidString.lowercased() }

    /// What IAM says of a workspace's role and profile.
    struct Grant {
        var profileName: String
        var roles: [String]
        var inlinePolicies: [String]
        var attachedPolicies: [String]
        var trust: NSDictionary?
        var policy: NSDictionary?
        var boundary: String?
    }

    static func grant(_ provider: EC2InstanceProvider, profile: String) async throws -> Grant {
        let iam = provider.roles.iam
        let instanceProfile = try await iam.call("GetInstanceProfile", [("InstanceProfileName", profile)])
            .child("GetInstanceProfileResult")?.child("InstanceProfile")
        let roles = (instanceProfile?.members("Roles") ?? []).compactMap { $0.value("RoleName") }
        guard let role = roles.first else {
            return Grant(profileName: profile, roles: [], inlinePolicies: [], attachedPolicies: [])
        }
        let described = try await iam.call("GetRole", [("RoleName", role)]).child("GetRoleResult")?.child("Role")
        let inline =
            try await iam.call("ListRolePolicies", [("RoleName", role)]).child("ListRolePoliciesResult")?
            .members("PolicyNames").map { $0.text.trimmingCharacters(in: .whitespacesAndNewlines) } ?? []
        let attached =
            try await iam.call("ListAttachedRolePolicies", [("RoleName", role)])
            .child("ListAttachedRolePoliciesResult")?.members("AttachedPolicies").compactMap { $0.value("PolicyArn") } ?? []
        let document = try await iam.call("GetRolePolicy", [("RoleName", role), ("PolicyName", "molecule-bundle")])
            .value("GetRolePolicyResult/PolicyDocument")
        return Grant(
            profileName: profile, roles: roles, inlinePolicies: inline, attachedPolicies: attached,
            trust: described?.value("AssumeRolePolicyDocument").flatMap(WorkspaceInstanceRoles.parsedPolicy),
            policy: document.flatMap(WorkspaceInstanceRoles.parsedPolicy),
            boundary: described?.value("PermissionsBoundary/PermissionsBoundaryArn"))
    }

    /// The instance profile EC2 associated with the instance (its name, the ARN's last part).
    static func associatedProfile(_ provider: EC2InstanceProvider, instance: String) async throws -> String? {
        let root = try await provider.api.call(
            "DescribeIamInstanceProfileAssociations", [("Filter.1.Name", "instance-id"), ("Filter.1.Value.1", instance)])
        let arn = root.items("iamInstanceProfileAssociationSet").first?.value("iamInstanceProfile/arn")
        return arn?.split(separator: "/").last.map(String.init)
    }

    /// IAM's ARN matching: `*` any run, `?` exactly one character, the rest literal.
    static func matches(_ pattern: String, _ text: String) -> Bool {
        let p = Array(pattern)
        let t = Array(text)
        func match(_ i: Int, _ j: Int) -> Bool {
            if i == p.count { return j == t.count }
            if p[i] == "*" { return (j...t.count).contains { match(i + 1, $0) } }
            guard j < t.count, p[i] == "?" || p[i] == t[j] else { return false }
            return match(i + 1, j + 1)
        }
        return match(0, 0)
    }

    @Test("each instance's profile holds one role whose one policy reads only its own workspace's secret")
    func ownSecretOnly() async throws {
        let moto = try await MotoProviders.make()
        let provider = try moto.instances()
        let secrets = try moto.secretStore()
        let (a, b) = (Self.workspace(), Self.workspace())
        var arns: [String: String] = [:]
        for workspace in [a, b] {
            _ = try await secrets.put(
                name: Self.secretName(workspace), value: Data("k: v".utf8), contentHash: "h",
                versionToken: String(repeating: "a", count: 64))
            let described = try await secrets.api.call("DescribeSecret", ["SecretId": Self.secretName(workspace)])
            arns[workspace] = try #require(described["ARN"] as? String)
        }
        let instanceA = try await provider.create(Self.spec(a))
        let instanceB = try await provider.create(Self.spec(b))
        let profileA = try #require(try await Self.associatedProfile(provider, instance: instanceA.id))
        let profileB = try #require(try await Self.associatedProfile(provider, instance: instanceB.id))
        #expect(profileA == provider.roles.name(workspaceID: a, owner: Self.owner))
        #expect(profileB == provider.roles.name(workspaceID: b, owner: Self.owner))
        #expect(profileA != profileB)

        for (workspace, profile, other) in [(a, profileA, b), (b, profileB, a)] {
            let grant = try await Self.grant(provider, profile: profile)
            #expect(grant.roles == [profile], "one role per profile, named like it")
            #expect(grant.inlinePolicies == ["molecule-bundle"] && grant.attachedPolicies.isEmpty)
            let trust = try #require(grant.trust?["Statement"] as? [[String: Any]])
            #expect(trust.count == 1 && (trust[0]["Principal"] as? [String: Any])?["Service"] as? String == "ec2.amazonaws.com")
            let statements = try #require(grant.policy?["Statement"] as? [[String: Any]])
            #expect(statements.count == 1)
            let statement = try #require(statements.first)
            #expect(statement["Effect"] as? String == "Allow" && statement["Condition"] == nil)
            #expect(
                Set(statement["Action"] as? [String] ?? [])
                    == ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"])
            let resource = try #require(statement["Resource"] as? String, "one resource, not a list")
            #expect(resource == "arn:aws:secretsmanager:us-east-1:123456789012:secret:\(Self.secretName(workspace))-??????")
            #expect(Self.matches(resource, arns[workspace]!), "\(resource) must match its own secret \(arns[workspace]!)")
            #expect(!Self.matches(resource, arns[other]!), "\(resource) must not match the other secret")
            #expect(!Self.matches(resource, arns[workspace]!.replacingOccurrences(of: "/config-", with: "/config-x-")))
        }
    }

    @Test("lost CreateRole and CreateInstanceProfile answers, and a stale GetRole: the retries adopt, one role, one profile")
    func lostResponsesAdopt() async throws {
        let moto = try await MotoProviders.make()
        let provider = try moto.instances()
        let workspace = Self.workspace()
        let name = provider.roles.name(workspaceID: workspace, owner: Self.owner)
        let lose = Mutex<Set<String>>(["iam.CreateRole", "iam.CreateInstanceProfile"])
        moto.transport.intercept { operation, request in
            guard lose.withLock({ $0.remove(operation) }) != nil else { return nil }
            _ = try await CurlHTTPClient().send(request)
            throw CurlHTTPClient.Failure(curlCode: CurlHTTPClient.Failure.timeoutCode, message: "Timeout was reached")
        }
        for _ in 0..<2 {
            do {
                _ = try await provider.create(Self.spec(workspace))
                Issue.record("the lost response was not reported")
            } catch let error as ProviderError {
                #expect(error.kind == .timeout)
            }
        }
        // A GetRole that does not see the role yet (IAM is eventually consistent): CreateRole
        // answers EntityAlreadyExists, and the role is adopted.
        let stale = Mutex(true)
        moto.transport.intercept { operation, _ in
            guard operation == "iam.GetRole",
                stale.withLock({ first in
                    defer { first = false }; return first
                })
            else { return nil }
            return RecordingTransport.xmlError(404, "NoSuchEntity", "The role with name \(name) cannot be found.")
        }
        let instance = try await provider.create(Self.spec(workspace))
        moto.transport.intercept(nil)
        let operations = moto.transport.operations
        #expect(operations.filter { $0 == "iam.CreateRole" }.count == 2, "the lost one and the one answered EntityAlreadyExists")
        #expect(operations.filter { $0 == "iam.CreateInstanceProfile" }.count == 1)
        #expect(operations.filter { $0 == "iam.AddRoleToInstanceProfile" }.count == 1)
        #expect(operations.filter { $0 == "ec2.RunInstances" }.count == 1)
        #expect(try await Self.associatedProfile(provider, instance: instance.id) == name)
        #expect(try await Self.grant(provider, profile: name).roles == [name])
        #expect(try await provider.heldWorkspaces(owner: Self.owner).filter { $0 == workspace } == [workspace])
    }

    @Test("a converged workspace: ensuring again and creating its generation again make no mutating IAM call")
    func convergedMakesNoMutation() async throws {
        let moto = try await MotoProviders.make()
        let provider = try moto.instances()
        let workspace = Self.workspace()
        _ = try await provider.create(Self.spec(workspace))
        let before = moto.transport.operations.count
        _ = try await provider.roles.ensure(workspaceID: workspace, owner: Self.owner, secretName: Self.secretName(workspace))
        _ = try await provider.create(Self.spec(workspace))
        #expect(moto.mutations(since: before).isEmpty, "\(moto.mutations(since: before))")
        #expect(moto.transport.operations(since: before).contains("iam.GetRolePolicy"))
    }

    @Test("a changed policy (someone widened it) is put back on the next launch; nothing else is rewritten")
    func driftRepaired() async throws {
        let moto = try await MotoProviders.make()
        let provider = try moto.instances()
        let workspace = Self.workspace()
        let name = provider.roles.name(workspaceID: workspace, owner: Self.owner)
        _ = try await provider.create(Self.spec(workspace))
        let wide = #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:*","Resource":"*"}]}"#
        _ = try await provider.roles.iam.call(
            "PutRolePolicy", [("RoleName", name), ("PolicyName", "molecule-bundle"), ("PolicyDocument", wide)])
        let before = moto.transport.operations.count
        _ = try await provider.create(Self.spec(workspace, generation: 2))
        #expect(moto.mutations(since: before) == ["iam.PutRolePolicy", "ec2.RunInstances"])
        let statement = (try await Self.grant(provider, profile: name).policy?["Statement"] as? [[String: Any]])?.first
        #expect((statement?["Resource"] as? String)?.hasSuffix("\(Self.secretName(workspace))-??????") == true)
    }

    @Test("release deletes profile and role; a second release and a released workspace cost reads only")
    func releaseCleansEverything() async throws {
        let moto = try await MotoProviders.make()
        let provider = try moto.instances()
        let (workspace, kept) = (Self.workspace(), Self.workspace())
        let name = provider.roles.name(workspaceID: workspace, owner: Self.owner)
        let instance = try await provider.create(Self.spec(workspace))
        _ = try await provider.create(Self.spec(kept))
        try await provider.terminate(instanceID: instance.id)
        #expect(try await provider.release(workspaceID: workspace, owner: Self.owner))
        for (action, parameter) in [("GetRole", "RoleName"), ("GetInstanceProfile", "InstanceProfileName")] {
            do {
                _ = try await provider.roles.iam.call(action, [(parameter, name)])
                Issue.record("\(action) still finds \(name)")
            } catch let error as ProviderError {
                #expect(error.kind == .notFound)
            }
        }
        let before = moto.transport.operations.count
        #expect(try await provider.release(workspaceID: workspace, owner: Self.owner) == false)
        #expect(moto.mutations(since: before).isEmpty)
        let held = try await provider.heldWorkspaces(owner: Self.owner)
        #expect(!held.contains(workspace) && held.contains(kept))
        #expect(try await provider.heldWorkspaces(owner: "pg:another-fleet").allSatisfy { $0 != kept })
    }

    @Test("RunInstances refusing a just-created profile (IAM propagation) is transient; the retry launches once")
    func propagationIsTransient() async throws {
        let moto = try await MotoProviders.make()
        let provider = try moto.instances()
        let workspace = Self.workspace()
        let name = provider.roles.name(workspaceID: workspace, owner: Self.owner)
        let once = Mutex(true)
        moto.transport.intercept { operation, _ in
            guard operation == "ec2.RunInstances",
                once.withLock({ first in
                    defer { first = false }; return first
                })
            else { return nil }
            return RecordingTransport.xmlError(
                400, "InvalidParameterValue",
                "Value (\(name)) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name")
        }
        do {
            _ = try await provider.create(Self.spec(workspace))
            Issue.record("no error")
        } catch let error as ProviderError {
            #expect(error.kind == .transient && !error.isTerminal, "\(error)")
            #expect(error.message.contains(name))
        }
        let instance = try await provider.create(Self.spec(workspace))
        #expect(try await Self.associatedProfile(provider, instance: instance.id) == name)
        #expect(moto.transport.operations.filter { $0 == "iam.CreateRole" }.count == 1)
    }

    @Test("a permissions boundary is set on every workspace role; a shared instance profile is refused at start")
    func boundaryAndSharedProfile() async throws {
        let moto = try await MotoProviders.make()
        let plain = try moto.instances()
        let boundaryName = "molecule-boundary-\(UUID().uuidString.prefix(8))"
        let document = try String(contentsOfFile: Self.deployFile("workspace-instance-policy.json"), encoding: .utf8)
        let created = try await plain.roles.iam.call(
            "CreatePolicy", [("PolicyName", boundaryName), ("PolicyDocument", document)])
        let boundary = try #require(created.value("CreatePolicyResult/Policy/Arn"))
        let provider = try EC2InstanceProvider.make(
            settings: .init(aws: MotoProviders.aws, imageID: "ami-12c6146b", permissionsBoundary: boundary),
            environment: moto.endpoint.environment, transport: moto.transport)
        let workspace = Self.workspace()
        let instance = try await provider.create(Self.spec(workspace))
        let profile = try #require(try await Self.associatedProfile(provider, instance: instance.id))
        #expect(try await Self.grant(provider, profile: profile).boundary == boundary)

        #expect(throws: AWSConfigurationError.self) {
            try EC2InstanceProvider.make(
                settings: .init(aws: MotoProviders.aws, imageID: "ami-12c6146b", instanceProfile: "molecule-workspace"),
                environment: moto.endpoint.environment)
        }
        #expect(throws: AWSConfigurationError.self) {
            try EC2InstanceProvider.make(
                settings: .init(aws: MotoProviders.aws, imageID: "ami-12c6146b", rolePrefix: "no spaces"),
                environment: moto.endpoint.environment)
        }
    }

    @Test("IAM errors name the role and never the credentials")
    func credentialsInNoError() async throws {
        let moto = try await MotoProviders.make()
        let provider = try moto.instances()
        let secret = moto.endpoint.secretAccessKey
        moto.transport.intercept { operation, _ in
            guard operation == "iam.CreateRole" else { return nil }
            return RecordingTransport.xmlError(403, "AccessDenied", "not authorized; signing key was \(secret)")
        }
        do {
            _ = try await provider.create(Self.spec(Self.workspace()))
            Issue.record("no error")
        } catch let error as ProviderError {
            #expect(error.kind == .invalid && error.operation == "CreateRole")
            #expect(!"\(error)".contains(secret) && !String(reflecting: error).contains(secret))
            #expect("\(error)".contains("AccessDenied") && "\(error)".contains("[redacted]"))
        }
    }

    @Test("names fit IAM's 64 characters; an ID that does not fit is hashed and found again through the role's tags")
    func namesAndHashedIDs() async throws {
        let moto = try await MotoProviders.make()
        let provider = try moto.instances()
        let uuid = Self.workspace()
        let plain = provider.roles.name(workspaceID: uuid, owner: Self.owner)
        #expect(plain.hasSuffix("-\(uuid)") && plain.hasPrefix("molecule-ws-") && plain.count <= 64)
        let odd = "Tenant/\(UUID().uuidString)-with-a-long-and-Mixed-Case-name"
        let hashed = provider.roles.name(workspaceID: odd, owner: Self.owner)
        #expect(hashed.count == 64 && !hashed.contains("/"))
        #expect(hashed != provider.roles.name(workspaceID: odd, owner: "pg:another-fleet"))
        _ = try await provider.roles.ensure(workspaceID: odd, owner: Self.owner, secretName: Self.secretName("x"))
        #expect(try await provider.heldWorkspaces(owner: Self.owner).contains(odd))
        #expect(try await provider.release(workspaceID: odd, owner: Self.owner))
        #expect(try await !provider.heldWorkspaces(owner: Self.owner).contains(odd))
    }

    @Test("a role of the workspace's name tagged with another owner is refused, never adopted or changed")
    func foreignRoleRefused() async throws {
        let moto = try await MotoProviders.make()
        let provider = try moto.instances()
        let workspace = Self.workspace()
        let name = provider.roles.name(workspaceID: workspace, owner: Self.owner)
        _ = try await provider.roles.iam.call(
            "CreateRole",
            [
                ("RoleName", name), ("Path", "/molecule/"), ("AssumeRolePolicyDocument", WorkspaceInstanceRoles.trustPolicy),
                ("Tags.member.1.Key", "molecule:owner"), ("Tags.member.1.Value", "pg:someone-else"),
            ])
        let before = moto.transport.operations.count
        do {
            _ = try await provider.create(Self.spec(workspace))
            Issue.record("a foreign role was adopted")
        } catch let error as ProviderError {
            #expect(error.kind == .invalid && error.message.contains(name) && error.message.contains("another owner"))
        }
        #expect(moto.mutations(since: before).isEmpty, "\(moto.mutations(since: before))")
    }

    static func deployFile(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("deploy/aws/\(name)").path
    }
}
