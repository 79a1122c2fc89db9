import Foundation

/// Where the AWS providers send their requests and as whom. Every field can be left at its
/// default, which is resolved from the environment the way the AWS SDKs do.
public struct AWSSettings: Sendable, Equatable {
    /// The region (`us-east-1`). Default: `AWS_REGION`, then `AWS_DEFAULT_REGION`, then the
    /// profile's `region` in the shared config file.
    public var region: String?
    /// The shared-files profile. Default: `AWS_PROFILE`, then `default`.
    public var profile: String?
    /// One endpoint for every service (moto: `http://127.0.0.1:5077`). Default:
    /// `AWS_ENDPOINT_URL`, else the service's public endpoint `https://<service>.<region>.amazonaws.com`.
    public var endpoint: String?
    /// Per-service endpoints (VPC endpoints), by signing name (`ec2`, `secretsmanager`); they win
    /// over `endpoint`. Default: `AWS_ENDPOINT_URL_EC2`, `AWS_ENDPOINT_URL_SECRETS_MANAGER`.
    public var serviceEndpoints: [String: String]
    /// The instance metadata service, for credentials on EC2. Default:
    /// `AWS_EC2_METADATA_SERVICE_ENDPOINT`, else `http://169.254.169.254`; set
    /// `AWS_EC2_METADATA_DISABLED=true` to skip it.
    public var metadataEndpoint: String?
    /// Whole-request timeout, milliseconds. Default 10 000.
    public var timeoutMilliseconds: Int

    public init(
        region: String? = nil, profile: String? = nil, endpoint: String? = nil,
        serviceEndpoints: [String: String] = [:], metadataEndpoint: String? = nil, timeoutMilliseconds: Int = 10_000
    ) {
        self.region = region
        self.profile = profile
        self.endpoint = endpoint
        self.serviceEndpoints = serviceEndpoints
        self.metadataEndpoint = metadataEndpoint
        self.timeoutMilliseconds = timeoutMilliseconds
    }
}

/// The settings once resolved against the environment: what a service client needs.
public struct ResolvedAWSSettings: Sendable {
    public var region: String
    public var profile: String
    public var environment: [String: String]
    public var settings: AWSSettings

    /// A setting that cannot be resolved names itself and the variables that would set it.
    public static func resolve(_ settings: AWSSettings, environment: [String: String]) throws -> ResolvedAWSSettings {
        let profile = settings.profile ?? nonEmpty(environment["AWS_PROFILE"]) ?? "default"
        let fromConfig = { () -> String? in
            let file = SharedConfigFiles(environment: environment)
            return file.configValue("region", profile: profile)
        }
        guard
            let region = settings.region ?? nonEmpty(environment["AWS_REGION"])
                ?? nonEmpty(environment["AWS_DEFAULT_REGION"]) ?? fromConfig()
        else {
            throw AWSConfigurationError(
                setting: "region",
                reason:
                    "no region: set AWS_REGION (or AWS_DEFAULT_REGION, or region in the profile '\(profile)' of the shared config file)"
            )
        }
        guard region.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }), !region.isEmpty else {
            throw AWSConfigurationError(setting: "region", reason: "'\(region)' is not a region name")
        }
        return ResolvedAWSSettings(region: region, profile: profile, environment: environment, settings: settings)
    }

    /// The base URL of `service` (`ec2`, `secretsmanager`, `iam`: global, `AWS_ENDPOINT_URL_IAM`),
    /// without a trailing slash.
    public func endpoint(service: String) -> String {
        let variable =
            service == "secretsmanager" ? "AWS_ENDPOINT_URL_SECRETS_MANAGER" : "AWS_ENDPOINT_URL_\(service.uppercased())"
        let url =
            settings.serviceEndpoints[service] ?? nonEmpty(environment[variable]) ?? settings.endpoint
            ?? nonEmpty(environment["AWS_ENDPOINT_URL"])
            ?? (service == "iam" ? "https://iam.amazonaws.com" : "https://\(service).\(region).amazonaws.com")
        return url.hasSuffix("/") ? String(url.dropLast()) : url
    }

    public var metadataEndpoint: String? {
        if environment["AWS_EC2_METADATA_DISABLED"]?.lowercased() == "true" { return nil }
        let url =
            settings.metadataEndpoint ?? nonEmpty(environment["AWS_EC2_METADATA_SERVICE_ENDPOINT"]) ?? "http://169.254.169.254"
        return url.hasSuffix("/") ? String(url.dropLast()) : url
    }
}

/// A setting the providers cannot work with: which one, and why. Never a credential's value.
public struct AWSConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    public var setting: String
    public var reason: String
    public var description: String { "aws: \(setting): \(reason)" }
}

func nonEmpty(_ value: String?) -> String? {
    guard let value, !value.trimmingCharacters(in: .whitespaces).isEmpty else { return nil }
    return value
}
