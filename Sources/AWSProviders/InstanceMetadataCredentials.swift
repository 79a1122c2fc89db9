import CurlHTTP
import Foundation

/// The instance profile's role credentials from IMDSv2: `PUT /latest/api/token` with a TTL,
/// then, with the token, `GET .../security-credentials/` (the role's name) and
/// `GET .../security-credentials/<role>` (a JSON document). Short timeouts: off EC2 nothing
/// answers at 169.254.169.254.
struct InstanceMetadataCredentials {
    var endpoint: String
    var transport: any AWSTransport

    private static let path = "/latest/meta-data/iam/security-credentials/"

    struct Document: Decodable {
        var code: String?
        var accessKeyID: String
        var secretAccessKey: String
        var token: String?
        var expiration: String?

        enum CodingKeys: String, CodingKey {
            case code = "Code"
            case accessKeyID = "AccessKeyId"
            case secretAccessKey = "SecretAccessKey"
            case token = "Token"
            case expiration = "Expiration"
        }
    }

    func fetch() async throws -> AWSCredentials {
        let token = try await call(
            "PUT", "/latest/api/token", headers: ["X-aws-ec2-metadata-token-ttl-seconds": "21600"], what: "the session token")
        let tokenHeader = ["X-aws-ec2-metadata-token": token.trimmingCharacters(in: .whitespacesAndNewlines)]
        let roles = try await call("GET", Self.path, headers: tokenHeader, what: "the role name")
        guard let role = roles.split(whereSeparator: \.isNewline).first.map(String.init), !role.isEmpty else {
            throw AWSConfigurationError(setting: "credentials", reason: "the instance has no instance profile role")
        }
        let body = try await call("GET", Self.path + role, headers: tokenHeader, what: "the role's credentials")
        guard let document = try? JSONDecoder().decode(Document.self, from: Data(body.utf8)),
            document.code == nil || document.code == "Success"
        else {
            throw AWSConfigurationError(setting: "credentials", reason: "the role's credentials document is not usable")
        }
        return AWSCredentials(
            accessKeyID: document.accessKeyID, secretAccessKey: document.secretAccessKey, sessionToken: document.token,
            expiration: document.expiration.flatMap { ISO8601DateFormatter().date(from: $0) },
            source: "instance metadata (role \(role))")
    }

    private func call(_ method: String, _ path: String, headers: [String: String], what: String) async throws -> String {
        let response: CurlHTTPClient.Response
        do {
            response = try await transport.send(
                .init(
                    method: method, url: endpoint + path, headers: headers, body: method == "PUT" ? Data() : nil,
                    timeoutMilliseconds: 2_000))
        } catch let failure as CurlHTTPClient.Failure {
            throw AWSConfigurationError(setting: "credentials", reason: "\(what): \(failure.message)")
        }
        guard response.status == 200 else {
            throw AWSConfigurationError(setting: "credentials", reason: "\(what): HTTP \(response.status)")
        }
        return response.text
    }
}
