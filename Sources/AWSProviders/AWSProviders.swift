import CurlHTTP
import Foundation

/// The AWS providers' constructors: settings plus the process environment (credentials,
/// region, endpoint overrides) in, ready providers out. Resolution fails early with the
/// setting's name and the reason; credentials themselves are fetched on the first request.
extension SecretsManagerStore {
    public static func make(
        settings: SecretsManagerSettings, environment: [String: String] = ProcessInfo.processInfo.environment,
        transport: any AWSTransport = CurlHTTPClient()
    ) throws -> SecretsManagerStore {
        let client = try AWSServiceClient.make(
            service: "secretsmanager", providerName: provider, settings: settings.aws, environment: environment,
            transport: transport)
        return SecretsManagerStore(client: client, tags: settings.tags, owner: settings.owner)
    }
}

extension EC2InstanceProvider {
    public static func make(
        settings: EC2Settings, environment: [String: String] = ProcessInfo.processInfo.environment,
        transport: any AWSTransport = CurlHTTPClient()
    ) throws -> EC2InstanceProvider {
        guard !settings.imageID.isEmpty else {
            throw AWSConfigurationError(setting: "ec2.imageID", reason: "an AMI ID is required")
        }
        guard (5...1000).contains(settings.pageSize) else {
            throw AWSConfigurationError(setting: "ec2.pageSize", reason: "must be 5 to 1000, got \(settings.pageSize)")
        }
        guard settings.instanceProfile == nil else {
            throw AWSConfigurationError(
                setting: "ec2.instanceProfile",
                reason:
                    "a profile shared by every instance lets each workspace read every bundle; the provider gives each workspace its own role and profile (ec2.rolePrefix): remove the setting"
            )
        }
        try WorkspaceInstanceRoles.validate(prefix: settings.rolePrefix)
        let client = try AWSServiceClient.make(
            service: "ec2", providerName: provider, settings: settings.aws, environment: environment, transport: transport)
        let iam = try AWSServiceClient.make(
            service: "iam", providerName: provider, settings: settings.aws, environment: environment, transport: transport)
        return EC2InstanceProvider(client: client, iam: iam, settings: settings, region: client.region)
    }
}

extension AWSServiceClient {
    static func make(
        service: String, providerName: String, settings: AWSSettings, environment: [String: String],
        transport: any AWSTransport
    ) throws -> AWSServiceClient {
        var resolved = try ResolvedAWSSettings.resolve(settings, environment: environment)
        if service == "iam" { resolved.region = IAMAPI.signingRegion }
        let chain = AWSCredentialChain(settings: resolved, transport: transport)
        return AWSServiceClient(
            service: service, providerName: providerName, settings: resolved, credentials: chain, transport: transport)
    }
}
