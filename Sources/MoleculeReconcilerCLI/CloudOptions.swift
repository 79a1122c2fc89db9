import AWSProviders
import ArgumentParser
import CloudflareProvider
import Foundation
import Providers

/// The AWS providers' settings (`--instances ec2`, `--secret-store aws`): each a flag, else its
/// `MOLECULE_*` variable; credentials and the region come from AWS's own chain (environment,
/// shared files and profile, the instance metadata service), never from a flag.
struct AWSOptions: ParsableArguments {
    @Option(name: .customLong("aws-region"), help: "AWS region ($AWS_REGION, $AWS_DEFAULT_REGION, then the profile's).")
    var region: String?

    @Option(name: .customLong("aws-profile"), help: "Shared-config profile ($AWS_PROFILE; default).")
    var profile: String?

    @Option(
        name: .customLong("aws-endpoint"),
        help: "Endpoint override for every AWS service, e.g. a VPC endpoint or moto ($AWS_ENDPOINT_URL).")
    var endpoint: String?

    @Option(name: .customLong("ec2-image-id"), help: "AMI the workspace instances boot ($MOLECULE_EC2_IMAGE_ID; required).")
    var imageID: String?

    @Option(name: .customLong("ec2-instance-type"), help: "Instance type ($MOLECULE_EC2_INSTANCE_TYPE; t3.small).")
    var instanceType: String?

    @Option(name: .customLong("ec2-subnet"), help: "Subnet ID ($MOLECULE_EC2_SUBNET).")
    var subnet: String?

    @Option(
        name: .customLong("ec2-security-groups"), help: "Comma-separated security group IDs ($MOLECULE_EC2_SECURITY_GROUPS).")
    var securityGroups: String?

    @Option(
        name: .customLong("ec2-instance-profile"),
        help:
            "Refused: a shared profile lets every workspace read every bundle; each workspace gets its own role ($MOLECULE_EC2_INSTANCE_PROFILE)."
    )
    var instanceProfile: String?

    @Option(
        name: .customLong("ec2-role-prefix"),
        help: "Name prefix of the per-workspace IAM roles and instance profiles ($MOLECULE_EC2_ROLE_PREFIX; molecule-ws-).")
    var rolePrefix: String?

    @Option(
        name: .customLong("ec2-role-permissions-boundary"),
        help: "Managed policy ARN set as every workspace role's permissions boundary ($MOLECULE_EC2_ROLE_PERMISSIONS_BOUNDARY).")
    var rolePermissionsBoundary: String?

    var aws: AWSSettings {
        AWSSettings(region: region, profile: profile, endpoint: endpoint)
    }

    func ec2() throws -> EC2Settings {
        guard let image = SettingLookup.text(imageID, "MOLECULE_EC2_IMAGE_ID"), !image.isEmpty else {
            throw ProviderSetupError(setting: "--ec2-image-id", reason: "an AMI ID is required with --instances ec2")
        }
        let groups = SettingLookup.text(securityGroups, "MOLECULE_EC2_SECURITY_GROUPS")?.split(separator: ",").map {
            $0.trimmingCharacters(in: .whitespaces)
        }
        return EC2Settings(
            aws: aws, imageID: image, instanceType: SettingLookup.text(instanceType, "MOLECULE_EC2_INSTANCE_TYPE") ?? "t3.small",
            subnetID: SettingLookup.text(subnet, "MOLECULE_EC2_SUBNET"), securityGroupIDs: groups ?? [],
            instanceProfile: SettingLookup.text(instanceProfile, "MOLECULE_EC2_INSTANCE_PROFILE"),
            rolePrefix: SettingLookup.text(rolePrefix, "MOLECULE_EC2_ROLE_PREFIX") ?? "molecule-ws-",
            permissionsBoundary: SettingLookup.text(rolePermissionsBoundary, "MOLECULE_EC2_ROLE_PERMISSIONS_BOUNDARY"))
    }

}

/// The Cloudflare provider's settings (`--tunnels cloudflare`); the API token is read from the
/// environment variable named here, never from a flag.
struct CloudflareOptions: ParsableArguments {
    @Option(
        name: .customLong("cloudflare-account-id"), help: "Cloudflare account ID ($MOLECULE_CLOUDFLARE_ACCOUNT_ID; required).")
    var accountID: String?

    @Option(
        name: .customLong("cloudflare-api-base-url"),
        help: "API base URL ($MOLECULE_CLOUDFLARE_API_BASE_URL; https://api.cloudflare.com/client/v4).")
    var apiBaseURL: String?

    @Option(
        name: .customLong("cloudflare-token-variable"),
        help: "Environment variable holding the API token (CLOUDFLARE_API_TOKEN).")
    var tokenVariable: String?

    @Option(
        name: .customLong("cloudflare-rate"), help: "Configuration API calls per second ($MOLECULE_CLOUDFLARE_RATE; 3).")
    var rate: Double?

    func settings() throws -> CloudflareSettings {
        guard let account = SettingLookup.text(accountID, "MOLECULE_CLOUDFLARE_ACCOUNT_ID") else {
            throw ProviderSetupError(setting: "--cloudflare-account-id", reason: "required with --tunnels cloudflare")
        }
        let rate =
            rate ?? SettingLookup.text(nil, "MOLECULE_CLOUDFLARE_RATE").flatMap(Double.init) ?? 3
        return CloudflareSettings(
            accountID: account,
            apiBaseURL: SettingLookup.text(apiBaseURL, "MOLECULE_CLOUDFLARE_API_BASE_URL")
                ?? CloudflareSettings.defaultAPIBaseURL,
            tokenVariable: tokenVariable ?? CloudflareSettings.defaultTokenVariable,
            requestsPerSecond: rate, burst: max(1, Int(rate.rounded(.up))))
    }
}
