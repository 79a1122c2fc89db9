import Foundation

@testable import AWSProviders

/// Providers on the shared moto server, each with its own recording transport.
struct MotoProviders {
    let endpoint: MotoServer.Endpoint
    let transport = RecordingTransport()

    static func make() async throws -> MotoProviders {
        MotoProviders(endpoint: try await MotoServer.shared.endpoint())
    }

    /// A whole-request timeout long enough for moto on a loaded two-core machine: a request
    /// that times out may still be carried out later, which no client can tell from a loss.
    static let aws = AWSSettings(timeoutMilliseconds: 60_000)

    func secretStore() throws -> SecretsManagerStore {
        try SecretsManagerStore.make(
            settings: .init(aws: Self.aws, tags: ["molecule:test": "aws-providers"]), environment: endpoint.environment,
            transport: transport)
    }

    func instances(pageSize: Int = 100) throws -> EC2InstanceProvider {
        try EC2InstanceProvider.make(
            settings: .init(
                aws: Self.aws, imageID: "ami-12c6146b", instanceType: "t3.micro", subnetID: nil, securityGroupIDs: [],
                tags: ["team": "platform"], pageSize: pageSize),
            environment: endpoint.environment, transport: transport)
    }

    /// Mutating operations the transport saw after the first `count` requests.
    func mutations(since count: Int) -> [String] {
        transport.operations(since: count).filter(RecordingTransport.isMutating)
    }
}
