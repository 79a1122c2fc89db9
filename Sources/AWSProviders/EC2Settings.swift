/// What every instance the EC2 provider launches looks like.
public struct EC2Settings: Sendable, Equatable {
    /// Region, profile, endpoints.
    public var aws: AWSSettings
    /// The AMI: an image whose boot runs `bootCommand` (required).
    public var imageID: String
    /// Default `t3.small`.
    public var instanceType: String
    /// The subnet (`subnet-...`); nil: the default VPC's default subnet.
    public var subnetID: String?
    /// Security group IDs (`sg-...`); empty: the VPC's default group.
    public var securityGroupIDs: [String]
    /// Refused when set: a profile shared by every instance lets each workspace read every
    /// bundle. The provider gives each workspace its own role and profile (`rolePrefix`).
    public var instanceProfile: String?
    /// The name prefix of the per-workspace IAM role and instance profile
    /// (`<prefix><owner hash>-<workspace>`, path `/molecule/`), 1–16 of `A-Za-z0-9+=,.@_-`.
    /// Default `molecule-ws-`. The sidecar's IAM policy is scoped to it.
    public var rolePrefix: String
    /// A managed policy ARN set as the permissions boundary of every workspace role; nil: none.
    /// With the deploy policy's condition, the sidecar can create no role without it.
    public var permissionsBoundary: String?
    /// An EC2 key pair for SSH; nil: none.
    public var keyName: String?
    /// Extra tags on every instance and its volumes (cost allocation...). The `molecule:*` keys
    /// are the provider's own and are not overridden.
    public var tags: [String: String]
    /// The port the workspace runtime listens on inside the instance; the instance's address is
    /// `<private IP>:<port>`. Default 8000.
    public var runtimePort: Int
    /// What user data runs once the bundle is named (the AMI's boot script). Default
    /// `/usr/local/bin/molecule-workspace-boot`.
    public var bootCommand: String
    /// DescribeInstances page size, 5–1000. Default 100.
    public var pageSize: Int

    public init(
        aws: AWSSettings = AWSSettings(), imageID: String, instanceType: String = "t3.small", subnetID: String? = nil,
        securityGroupIDs: [String] = [],
        instanceProfile: String? = nil, keyName: String? = nil, tags: [String: String] = [:], runtimePort: Int = 8000,
        bootCommand: String = "/usr/local/bin/molecule-workspace-boot", pageSize: Int = 100,
        rolePrefix: String = "molecule-ws-", permissionsBoundary: String? = nil
    ) {
        self.aws = aws
        self.imageID = imageID
        self.instanceType = instanceType
        self.subnetID = subnetID
        self.securityGroupIDs = securityGroupIDs
        self.instanceProfile = instanceProfile
        self.keyName = keyName
        self.tags = tags
        self.runtimePort = runtimePort
        self.bootCommand = bootCommand
        self.pageSize = pageSize
        self.rolePrefix = rolePrefix
        self.permissionsBoundary = permissionsBoundary
    }
}
