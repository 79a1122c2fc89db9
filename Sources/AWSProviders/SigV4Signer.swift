import Crypto
import Foundation
import ReconcileRuntime

/// AWS Signature Version 4 for one region and service (`ec2`, `secretsmanager`): adds
/// `X-Amz-Date`, `X-Amz-Security-Token` (temporary credentials) and `Authorization` to a
/// request's headers. Signs `host`, `x-amz-date`, `content-type` and every `x-amz-*` header sent;
/// never `user-agent`, `expect`, `accept` or `content-length`. The secret key is used only to
/// derive the signing key: it is in no header, no description and no error.
public struct SigV4Signer: Sendable {
    public var region: String
    public var service: String

    public init(region: String, service: String) {
        self.region = region
        self.service = service
    }

    /// The request parts a signature covers.
    public struct Request: Sendable {
        public var method: String
        /// `host[:port]`, exactly as the Host header the transport sends (the port when it is not
        /// the scheme's default).
        public var host: String
        public var path: String
        /// Decoded name/value pairs; empty when everything is in the body.
        public var query: [(String, String)]
        public var headers: [String: String]
        public var body: Data

        public init(
            method: String, host: String, path: String = "/", query: [(String, String)] = [],
            headers: [String: String] = [:], body: Data = Data()
        ) {
            self.method = method
            self.host = host
            self.path = path
            self.query = query
            self.headers = headers
            self.body = body
        }
    }

    /// The headers to send: `request.headers` plus `Host`-independent signing headers
    /// (`X-Amz-Date`, `X-Amz-Security-Token` when the credentials have one, `Authorization`).
    public func sign(_ request: Request, credentials: AWSCredentials, date: Date) -> [String: String] {
        let amzDate = Self.amzDate(date)
        var headers = request.headers
        headers["X-Amz-Date"] = amzDate
        if let token = credentials.sessionToken { headers["X-Amz-Security-Token"] = token }
        let parts = canonical(request, headers: headers)
        let scope = "\(amzDate.prefix(8))/\(region)/\(service)/aws4_request"
        let stringToSign = Self.stringToSign(amzDate: amzDate, scope: scope, canonicalRequest: parts.request)
        let key = signingKey(secret: credentials.secretAccessKey, day: String(amzDate.prefix(8)))
        let signature = Hex.string(HMAC<SHA256>.authenticationCode(for: Data(stringToSign.utf8), using: key))
        headers["Authorization"] =
            "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope), SignedHeaders=\(parts.signedHeaders), Signature=\(signature)"
        return headers
    }

    /// The canonical request and its signed-header list, for `headers` (the X-Amz-Date included).
    func canonical(_ request: Request, headers: [String: String]) -> (request: String, signedHeaders: String) {
        var signed: [String: String] = ["host": request.host]
        for (name, value) in headers {
            let lower = name.lowercased()
            guard lower == "content-type" || lower.hasPrefix("x-amz-") else { continue }
            signed[lower] = Self.trimmed(value)
        }
        let names = signed.keys.sorted()
        let canonicalHeaders = names.map { "\($0):\(signed[$0]!)\n" }.joined()
        let signedHeaders = names.joined(separator: ";")
        let encoded: [(name: String, value: String)] = request.query.map {
            (Self.percentEncode($0.0), Self.percentEncode($0.1))
        }
        let sorted = encoded.sorted { ($0.name, $0.value) < ($1.name, $1.value) }
        let query = sorted.map { "\($0.name)=\($0.value)" }.joined(separator: "&")
        let payloadHash: String = Hex.string(SHA256.hash(data: request.body))
        let lines: [String] = [
            request.method, Self.canonicalURI(request.path), query, canonicalHeaders, signedHeaders, payloadHash,
        ]
        let text = lines.joined(separator: "\n")
        return (text, signedHeaders)
    }

    static func stringToSign(amzDate: String, scope: String, canonicalRequest: String) -> String {
        ["AWS4-HMAC-SHA256", amzDate, scope, Hex.string(SHA256.hash(data: Data(canonicalRequest.utf8)))]
            .joined(separator: "\n")
    }

    func signingKey(secret: String, day: String) -> SymmetricKey {
        var key = SymmetricKey(data: Data("AWS4\(secret)".utf8))
        for part in [day, region, service, "aws4_request"] {
            key = SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Data(part.utf8), using: key)))
        }
        return key
    }

    /// `yyyyMMdd'T'HHmmss'Z'` in UTC.
    public static func amzDate(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        return String(
            format: "%04d%02d%02dT%02d%02d%02dZ", c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!)
    }

    /// RFC 3986: `A-Z a-z 0-9 - _ . ~` as they are, every other UTF-8 byte as `%XX` (uppercase).
    public static func percentEncode(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
                UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                out += String(format: "%%%02X", byte)
            }
        }
        return out
    }

    /// Each segment encoded twice (every service but S3); `/` stays `/`.
    static func canonicalURI(_ path: String) -> String {
        guard path != "/" && !path.isEmpty else { return "/" }
        return path.split(separator: "/", omittingEmptySubsequences: false)
            .map { percentEncode(percentEncode(String($0))) }.joined(separator: "/")
    }

    /// Trimmed, inner runs of spaces collapsed to one.
    static func trimmed(_ value: String) -> String {
        value.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
            .trimmingCharacters(in: .whitespaces)
    }
}
