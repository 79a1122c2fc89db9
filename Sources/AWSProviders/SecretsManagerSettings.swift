/// Where the Secrets Manager store keeps the bundles.
public struct SecretsManagerSettings: Sendable, Equatable {
    /// Region, profile, endpoints.
    public var aws: AWSSettings
    /// Tags every secret created carries (owner, environment, cost allocation). Default none.
    public var tags: [String: String]

    public init(aws: AWSSettings = AWSSettings(), tags: [String: String] = [:]) {
        self.aws = aws
        self.tags = tags
    }
}
