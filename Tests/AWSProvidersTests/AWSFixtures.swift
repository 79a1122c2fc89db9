import Foundation

@testable import AWSProviders

/// Providers on the shared moto server, each with its own recording transport.
struct MotoProviders {
    let endpoint: MotoServer.Endpoint
    let transport = RecordingTransport()

    static func make() async throws -> MotoProviders {
        MotoProviders(endpoint: try await MotoServer.shared.endpoint())
    }

    func secretStore() throws -> SecretsManagerStore {
        try SecretsManagerStore.make(
            settings: .init(tags: ["molecule:test": "aws-providers"]), environment: endpoint.environment, transport: transport)
    }

    func instances(pageSize: Int = 100) throws -> EC2InstanceProvider {
        try EC2InstanceProvider.make(
            settings: .init(
                imageID: "ami-12c6146b", instanceType: "t3.micro", subnetID: nil, securityGroupIDs: [],
                instanceProfile: "molecule-workspace", tags: ["team": "platform"], pageSize: pageSize),
            environment: endpoint.environment, transport: transport)
    }

    /// Mutating operations the transport saw after the first `count` requests.
    func mutations(since count: Int) -> [String] {
        transport.operations(since: count).filter(RecordingTransport.isMutating)
    }
}
