/// Where the Secrets Manager store keeps the bundles.
public struct SecretsManagerSettings: Sendable, Equatable {
    /// Region, profile, endpoints.
    public var aws: AWSSettings
    /// Tags every secret created carries (owner, environment, cost allocation). Default none.
    public var tags: [String: String]
    /// Which database's reconciler writes these bundles (`DatabaseIdentity`): secrets are
    /// created with the tag `molecule:owner`, and `list` (the orphan-bundle sweep) returns only
    /// this owner's, so that fleets sharing an account and region never sweep each other's
    /// bundles. nil: every bundle is listed (one fleet per account and region).
    public var owner: String?

    public init(aws: AWSSettings = AWSSettings(), tags: [String: String] = [:], owner: String? = nil) {
        self.aws = aws
        self.tags = tags
        self.owner = owner
    }
}
