import CurlHTTP
import Foundation
import Providers
import Synchronization
import Testing

@testable import AWSProviders

/// The EC2 provider against moto, signatures checked (moto ignores ClientToken: the
/// list-by-tag guard is what keeps a retry from launching twice), plus the answers moto
/// cannot give (IdempotentParameterMismatch, RequestLimitExceeded) injected at the transport.
@Suite("EC2 instance provider (moto)")
struct EC2InstanceProviderTests {
    static func spec(_ workspace: String, _ generation: Int64, owner: String = "pg:test") -> InstanceSpec {
        InstanceSpec(
            workspaceID: workspace, generation: generation, image: "registry/agent:1.4",
            bundleName: "molecule/workspace/\(workspace)/config", owner: owner)
    }

    static func workspace() -> String { UUID().uuidString.lowercased() }

    @Test("create launches one tagged instance; a second create of the same generation adopts it")
    func createAdopts() async throws {
        let moto = try await MotoProviders.make()
        let provider = try moto.instances()
        let workspace = Self.workspace()
        let sent = Mutex<String>("")
        moto.transport.intercept { operation, request in
            if operation == "ec2.RunInstances" { sent.withLock { $0 = String(decoding: request.body ?? Data(), as: UTF8.self) } }
            return nil
        }
        let created = try await provider.create(Self.spec(workspace, 1))
        #expect(created.workspaceID == workspace && created.generation == 1)
        #expect(created.idempotencyToken == "\(workspace)-g1")
        let again = try await provider.create(Self.spec(workspace, 1))
        #expect(again.id == created.id)
        #expect(moto.transport.operations.filter { $0 == "ec2.RunInstances" }.count == 1)
        let listed = try await provider.list(workspaceID: workspace)
        #expect(listed.map(\.id) == [created.id] && listed[0].state == .running)
        #expect(listed[0].address?.hasSuffix(":8000") == true)
        let body = sent.withLock { $0 }
        #expect(body.contains("ClientToken=\(workspace)-g1"))
        #expect(body.contains("Tag.3.Key=molecule%3Aworkspace") || body.contains("molecule%3Aworkspace"))
        #expect(body.contains("IamInstanceProfile.Name=\(provider.roles.name(workspaceID: workspace, owner: "pg:test"))"))
        #expect(body.contains("MetadataOptions.HttpTokens=required"))
        #expect(try await provider.listAll(owner: "pg:test").contains { $0.id == created.id })
        #expect(try await provider.listAll(owner: "pg:other").allSatisfy { $0.workspaceID != workspace })
    }

    @Test("user data names the bundle's secret, its staged version (else the stage), region and generation, and holds no value")
    func userData() async throws {
        let provider = try await MotoProviders.make().instances()
        let script = provider.userData(Self.spec("ws-1", 3))
        #expect(script.contains("export MOLECULE_BUNDLE_SECRET='molecule/workspace/ws-1/config'"))
        #expect(script.contains("export MOLECULE_BUNDLE_VERSION_STAGE='AWSCURRENT'"))
        #expect(script.contains("export MOLECULE_GENERATION='3'") && script.contains("export AWS_REGION='us-east-1'"))
        #expect(!script.contains("AWS_SECRET_ACCESS_KEY") && !script.contains("AWS_ACCESS_KEY_ID"))
        #expect(EC2InstanceProvider.shellQuoted("a'b") == #"'a'\''b'"#)
        // With the staged version known, the script names it (the generation's exact bundle), not the stage.
        var versioned = Self.spec("ws-1", 4)
        versioned.bundleVersion = "0f3e5a7c9b1d4e6f8a2c4e6a8b0d2f4a"
        let pinned = provider.userData(versioned)
        #expect(pinned.contains("export MOLECULE_BUNDLE_VERSION_ID='0f3e5a7c9b1d4e6f8a2c4e6a8b0d2f4a'"))
        #expect(!pinned.contains("AWSCURRENT") && pinned.contains("export MOLECULE_GENERATION='4'"))
    }

    @Test("a lost RunInstances response: the retry finds the instance by tag, no second launch")
    func lostResponse() async throws {
        let moto = try await MotoProviders.make()
        let provider = try moto.instances()
        let workspace = Self.workspace()
        moto.transport.intercept { operation, request in
            guard operation == "ec2.RunInstances" else { return nil }
            _ = try await CurlHTTPClient().send(request)
            throw CurlHTTPClient.Failure(curlCode: CurlHTTPClient.Failure.timeoutCode, message: "Timeout was reached")
        }
        do {
            _ = try await provider.create(Self.spec(workspace, 1))
            Issue.record("the lost response was not reported")
        } catch let error as ProviderError {
            #expect(error.kind == .timeout)
        }
        moto.transport.intercept(nil)
        let adopted = try await provider.create(Self.spec(workspace, 1))
        #expect(try await provider.list(workspaceID: workspace).map(\.id) == [adopted.id])
        #expect(moto.transport.operations.filter { $0 == "ec2.RunInstances" }.count == 1)
    }

    @Test("DescribeInstances follows nextToken over every page")
    func pagination() async throws {
        let moto = try await MotoProviders.make()
        let provider = try moto.instances(pageSize: 5)
        let workspace = Self.workspace()
        for generation in 1...7 { _ = try await provider.create(Self.spec(workspace, Int64(generation))) }
        let before = moto.transport.operations.count
        let listed = try await provider.list(workspaceID: workspace)
        #expect(listed.map(\.generation) == Array(1...7))
        #expect(moto.transport.operations(since: before) == ["ec2.DescribeInstances", "ec2.DescribeInstances"])
    }

    @Test("terminate is idempotent; the instance stays listed as terminated")
    func terminate() async throws {
        let provider = try await MotoProviders.make().instances()
        let workspace = Self.workspace()
        let created = try await provider.create(Self.spec(workspace, 1))
        try await provider.terminate(instanceID: created.id)
        try await provider.terminate(instanceID: created.id)
        let listed = try await provider.list(workspaceID: workspace)
        #expect(listed.map(\.state) == [.terminated] && listed[0].address == nil)
        // The generation's token is spent: create returns the terminated instance, never a second.
        #expect(try await provider.create(Self.spec(workspace, 1)).state == .terminated)
        do {
            try await provider.terminate(instanceID: "i-0123456789abcdef0")
            Issue.record("an unknown instance was terminated")
        } catch let error as ProviderError {
            #expect(error.kind == .notFound)
        }
    }

    @Test("AWS answers moto cannot give: IdempotentParameterMismatch is terminal, RequestLimitExceeded throttled")
    func injectedAnswers() async throws {
        let moto = try await MotoProviders.make()
        let provider = try moto.instances()
        let cases: [(CurlHTTPClient.Response, (ProviderError.Kind) -> Bool)] = [
            (
                RecordingTransport.xmlError(
                    400, "IdempotentParameterMismatch", "Arguments on this idempotent request are inconsistent"),
                { $0 == .idempotencyMismatch }
            ),
            (
                RecordingTransport.xmlError(503, "RequestLimitExceeded", "Request limit exceeded."),
                { if case .throttled = $0 { true } else { false } }
            ),
            (RecordingTransport.xmlError(400, "UnauthorizedOperation", "You are not authorized"), { $0 == .invalid }),
            (RecordingTransport.xmlError(500, "InternalError", "An internal error"), { $0 == .transient }),
        ]
        for (answer, expected) in cases {
            moto.transport.intercept { operation, _ in operation == "ec2.RunInstances" ? answer : nil }
            do {
                _ = try await provider.create(Self.spec(Self.workspace(), 1))
                Issue.record("no error")
            } catch let error as ProviderError {
                #expect(expected(error.kind), "\(error)")
                #expect(error.provider == "instances" && error.operation == "RunInstances")
            }
        }
    }
}
