import CurlHTTP
import Foundation

/// The credentials chain a user of the AWS CLI expects, first hit wins:
/// 1. the environment: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`;
/// 2. the shared credentials file, then the config file, for the profile (`AWS_PROFILE`);
/// 3. the instance metadata service, IMDSv2 (a token PUT, then the role's credentials), for a
///    sidecar on EC2 with an instance profile.
/// Temporary credentials are cached until five minutes before they expire. No step ever puts a
/// key in an error: a failure says which source was tried and why it gave nothing.
public actor AWSCredentialChain {
    private let settings: ResolvedAWSSettings
    private let transport: any AWSTransport
    private let clock: @Sendable () -> Date
    private var cached: AWSCredentials?

    public init(
        settings: ResolvedAWSSettings, transport: any AWSTransport = CurlHTTPClient(),
        clock: @escaping @Sendable () -> Date = Date.init
    ) {
        self.settings = settings
        self.transport = transport
        self.clock = clock
    }

    public func credentials() async throws -> AWSCredentials {
        if let cached, cached.expiration.map({ $0.timeIntervalSince(clock()) > 300 }) ?? true { return cached }
        let fresh = try await resolve()
        cached = fresh
        return fresh
    }

    /// Forgets cached credentials (after the service said they expired).
    public func invalidate() { cached = nil }

    private func resolve() async throws -> AWSCredentials {
        let environment = settings.environment
        if let key = nonEmpty(environment["AWS_ACCESS_KEY_ID"]), let secret = nonEmpty(environment["AWS_SECRET_ACCESS_KEY"]) {
            return AWSCredentials(
                accessKeyID: key, secretAccessKey: secret, sessionToken: nonEmpty(environment["AWS_SESSION_TOKEN"]),
                source: "environment")
        }
        let files = SharedConfigFiles(environment: environment)
        let profile = settings.profile
        if let key = files.value("aws_access_key_id", profile: profile),
            let secret = files.value("aws_secret_access_key", profile: profile)
        {
            return AWSCredentials(
                accessKeyID: key, secretAccessKey: secret, sessionToken: files.value("aws_session_token", profile: profile),
                source: "shared files (profile \(profile))")
        }
        guard let endpoint = settings.metadataEndpoint else {
            throw AWSConfigurationError(
                setting: "credentials",
                reason:
                    "none found: not in the environment, not in the shared files for profile '\(profile)', and the instance metadata service is disabled"
            )
        }
        do {
            return try await InstanceMetadataCredentials(endpoint: endpoint, transport: transport).fetch()
        } catch let error as AWSConfigurationError {
            throw AWSConfigurationError(
                setting: "credentials",
                reason:
                    "none found: not in the environment, not in the shared files for profile '\(profile)'; instance metadata: \(error.reason)"
            )
        }
    }
}
