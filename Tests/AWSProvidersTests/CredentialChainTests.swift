import CurlHTTP
import Foundation
import Testing

@testable import AWSProviders

@Suite("AWS credentials and settings")
struct CredentialChainTests {
    static let none: [String: String] = ["HOME": "/nonexistent", "AWS_EC2_METADATA_DISABLED": "true"]

    static func chain(_ environment: [String: String], settings: AWSSettings = .init(region: "eu-west-1")) throws
        -> AWSCredentialChain
    {
        AWSCredentialChain(settings: try ResolvedAWSSettings.resolve(settings, environment: environment))
    }

    static func files(credentials: String = "", config: String = "") throws -> [String: String] {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("aws-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try credentials.write(to: directory.appendingPathComponent("credentials"), atomically: true, encoding: .utf8)
        try config.write(to: directory.appendingPathComponent("config"), atomically: true, encoding: .utf8)
        return none.merging([
            "AWS_SHARED_CREDENTIALS_FILE": directory.appendingPathComponent("credentials").path,
            "AWS_CONFIG_FILE": directory.appendingPathComponent("config").path,
        ]) { $1 }
    }

    @Test("the environment wins, session token included")
    func environment() async throws {
        var environment = try Self.files(credentials: "[default]\naws_access_key_id = AKIAFILE\naws_secret_access_key = file\n")
        environment["AWS_ACCESS_KEY_ID"] = "AKIAENV"
        environment["AWS_SECRET_ACCESS_KEY"] = "env-secret"
        environment["AWS_SESSION_TOKEN"] = "env-token"
        let keys = try await Self.chain(environment).credentials()
        #expect(keys.accessKeyID == "AKIAENV" && keys.secretAccessKey == "env-secret" && keys.sessionToken == "env-token")
        #expect(keys.source == "environment")
    }

    @Test("the shared credentials file for AWS_PROFILE, then the config file; region from the profile")
    func sharedFiles() async throws {
        var environment = try Self.files(
            credentials:
                "[default]\naws_access_key_id=AKIADEFAULT\naws_secret_access_key=d\n\n# ops\n[ops]\naws_access_key_id = AKIAOPS\naws_secret_access_key = o-secret\n",
            config:
                "[profile cfg]\naws_access_key_id = AKIACFG\naws_secret_access_key = c\nregion = ap-south-1\n[default]\nregion = eu-central-1\n"
        )
        #expect(try await Self.chain(environment).credentials().accessKeyID == "AKIADEFAULT")
        environment["AWS_PROFILE"] = "ops"
        let ops = try await Self.chain(environment).credentials()
        #expect(ops.accessKeyID == "AKIAOPS" && ops.secretAccessKey == "o-secret" && ops.source.contains("ops"))
        environment["AWS_PROFILE"] = "cfg"
        #expect(try await Self.chain(environment).credentials().accessKeyID == "AKIACFG")
        #expect(try ResolvedAWSSettings.resolve(.init(), environment: environment).region == "ap-south-1")
        environment["AWS_PROFILE"] = nil
        #expect(try ResolvedAWSSettings.resolve(.init(), environment: environment).region == "eu-central-1")
        environment["AWS_DEFAULT_REGION"] = "us-west-1"
        #expect(try ResolvedAWSSettings.resolve(.init(), environment: environment).region == "us-west-1")
        environment["AWS_REGION"] = "us-west-2"
        #expect(try ResolvedAWSSettings.resolve(.init(), environment: environment).region == "us-west-2")
        #expect(try ResolvedAWSSettings.resolve(.init(region: "sa-east-1"), environment: environment).region == "sa-east-1")
    }

    @Test("no region anywhere: the error names the setting and the variables")
    func noRegion() throws {
        #expect(throws: AWSConfigurationError.self) { try ResolvedAWSSettings.resolve(.init(), environment: Self.none) }
        do {
            _ = try ResolvedAWSSettings.resolve(.init(), environment: Self.none)
        } catch let error as AWSConfigurationError {
            #expect(error.description.contains("region") && error.description.contains("AWS_REGION"))
        }
    }

    @Test("endpoints: per service, then AWS_ENDPOINT_URL, then the public endpoint")
    func endpoints() throws {
        var environment = Self.none
        #expect(
            try ResolvedAWSSettings.resolve(.init(region: "eu-west-1"), environment: environment).endpoint(service: "ec2")
                == "https://ec2.eu-west-1.amazonaws.com")
        environment["AWS_ENDPOINT_URL"] = "http://127.0.0.1:5077/"
        environment["AWS_ENDPOINT_URL_SECRETS_MANAGER"] = "https://vpce-1.secretsmanager.eu-west-1.vpce.amazonaws.com"
        let resolved = try ResolvedAWSSettings.resolve(.init(region: "eu-west-1"), environment: environment)
        #expect(resolved.endpoint(service: "ec2") == "http://127.0.0.1:5077")
        #expect(resolved.endpoint(service: "secretsmanager") == "https://vpce-1.secretsmanager.eu-west-1.vpce.amazonaws.com")
        #expect(AWSServiceClient.hostHeader("http://127.0.0.1:5077") == "127.0.0.1:5077")
        #expect(AWSServiceClient.hostHeader("https://ec2.eu-west-1.amazonaws.com") == "ec2.eu-west-1.amazonaws.com")
    }

    @Test("IMDSv2: a token PUT, then the role and its credentials with the token; cached until near expiry")
    func instanceMetadata() async throws {
        let expiration = ISO8601DateFormatter().string(from: Date() + 3_600)
        let server = try RoutedHTTPServer { request in
            switch (request.method, request.path) {
            case ("PUT", "/latest/api/token"):
                return request.headers["x-aws-ec2-metadata-token-ttl-seconds"] == "21600" ? (200, "tok-123") : (400, "")
            case (_, _) where request.headers["x-aws-ec2-metadata-token"] != "tok-123":
                return (401, "")
            case ("GET", "/latest/meta-data/iam/security-credentials/"):
                return (200, "molecule-sidecar\n")
            case ("GET", "/latest/meta-data/iam/security-credentials/molecule-sidecar"):
                return (
                    200,
                    #"{"Code":"Success","Type":"AWS-HMAC","AccessKeyId":"ASIAIMDS","SecretAccessKey":"imds-secret","Token":"imds-token","Expiration":"\#(expiration)"}"#
                )
            default:
                return (404, "")
            }
        }
        defer { server.stop() }
        var environment = Self.none
        environment["AWS_EC2_METADATA_DISABLED"] = nil
        environment["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = server.url
        let chain = try Self.chain(environment)
        let keys = try await chain.credentials()
        #expect(keys.accessKeyID == "ASIAIMDS" && keys.secretAccessKey == "imds-secret" && keys.sessionToken == "imds-token")
        #expect(keys.expiration != nil && keys.source == "instance metadata (role molecule-sidecar)")
        #expect(
            server.requests.map { "\($0.method) \($0.path)" } == [
                "PUT /latest/api/token", "GET /latest/meta-data/iam/security-credentials/",
                "GET /latest/meta-data/iam/security-credentials/molecule-sidecar",
            ])
        _ = try await chain.credentials()
        #expect(server.requests.count == 3, "cached credentials are not fetched again")
    }

    @Test("nothing found: the error says what was tried, and no value")
    func nothingFound() async throws {
        let server = try RoutedHTTPServer { _ in (404, "") }
        defer { server.stop() }
        var environment = Self.none
        environment["AWS_EC2_METADATA_DISABLED"] = nil
        environment["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = server.url
        do {
            _ = try await Self.chain(environment).credentials()
            Issue.record("credentials out of nowhere")
        } catch let error as AWSConfigurationError {
            #expect(error.description.contains("environment") && error.description.contains("instance metadata"))
            #expect(error.description.contains("HTTP 404"))
        }
    }

    @Test("credentials never in a description, a debug description or a service error")
    func noLeak() async throws {
        let marker = "MARKER-secret-0123456789abcdef"
        let keys = AWSCredentials(
            accessKeyID: "AKIAMARKER", secretAccessKey: marker, sessionToken: "MARKER-token-xyz", source: "test")
        #expect(!"\(keys)".contains("MARKER") && !String(reflecting: keys).contains("MARKER-"))
        // A service that echoed the secret (none does) still would not reach last_error.
        let answer = AWSErrorClassifier.classify(
            CurlHTTPClient.Response(
                status: 403, body: Data(#"{"__type":"AccessDenied","message":"key \#(marker) token MARKER-token-xyz"}"#.utf8)),
            provider: "secret store", operation: "describe", redacting: keys)
        #expect(!answer.providerError.description.contains(marker) && !answer.providerError.description.contains("MARKER-token"))
        #expect(answer.providerError.kind == .invalid)
    }
}
