import CurlHTTP
import Foundation
import Providers

/// An AWS error answer, classified once: the code from the body (JSON `__type`, the part after
/// the last `#`; or XML `<Code>`, as EC2 and moto's signature errors send it), never from the
/// HTTP status alone (moto sends 404 where AWS sends 400).
struct AWSErrorAnswer {
    var status: Int
    var code: String
    var message: String
    var providerError: ProviderError
}

enum AWSErrorClassifier {
    static let throttling: Set<String> = [
        "Throttling", "ThrottlingException", "ThrottledException", "RequestLimitExceeded", "EC2ThrottledException",
        "TooManyRequestsException", "RequestThrottled", "RequestThrottledException", "SlowDown",
        "ProvisionedThroughputExceededException",
    ]
    static let notFound: Set<String> = ["ResourceNotFoundException", "InvalidInstanceID.NotFound", "NoSuchEntity"]
    static let transient: Set<String> = [
        "InternalServiceError", "InternalFailure", "InternalError", "ServiceUnavailable", "Unavailable",
        "InsufficientInstanceCapacity", "ExpiredToken", "RequestExpired", "RequestTimeout", "ServiceFailure",
    ]

    static func classify(
        _ response: CurlHTTPClient.Response, provider: String, operation: String, redacting keys: AWSCredentials
    ) -> AWSErrorAnswer {
        var (code, message) = parse(response.body)
        message = redact(String(message.prefix(300)), keys)
        let kind: ProviderError.Kind
        if throttling.contains(code) || response.status == 429 || response.status == 503 {
            kind = .throttled(retryAfter: response.headers["Retry-After"].flatMap(Int.init).map { .seconds($0) })
        } else if notFound.contains(code) {
            kind = .notFound
        } else if code == "IdempotentParameterMismatch" {
            kind = .idempotencyMismatch
        } else if transient.contains(code) || response.status >= 500 {
            kind = .transient
        } else {
            kind = .invalid
        }
        let text = code.isEmpty ? "HTTP \(response.status)" : "\(code): \(message)"
        return AWSErrorAnswer(
            status: response.status, code: code, message: message,
            providerError: ProviderError(kind, provider: provider, operation: operation, message: text))
    }

    /// The code and message of a JSON or XML error body; empty when neither is found.
    static func parse(_ body: Data) -> (code: String, message: String) {
        if let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any] {
            let type = (object["__type"] as? String) ?? (object["code"] as? String) ?? ""
            let code = type.split(separator: "#").last.map(String.init) ?? type
            let message = (object["message"] as? String) ?? (object["Message"] as? String) ?? ""
            return (code, message)
        }
        let text = String(decoding: body, as: UTF8.self)
        return (element("Code", in: text) ?? "", element("Message", in: text) ?? "")
    }

    /// The text of the first `<name>` element, entities decoded.
    static func element(_ name: String, in text: String) -> String? {
        guard let open = text.range(of: "<\(name)>"),
            let close = text.range(of: "</\(name)>", range: open.upperBound..<text.endIndex)
        else { return nil }
        return XMLText.decode(String(text[open.upperBound..<close.lowerBound]))
    }

    /// A service never echoes a secret key, but a message is copied into `last_error`: make sure.
    static func redact(_ message: String, _ keys: AWSCredentials) -> String {
        var text = message
        for secret in [keys.secretAccessKey, keys.sessionToken].compactMap({ $0 }) where secret.count >= 8 {
            text = text.replacingOccurrences(of: secret, with: "[redacted]")
        }
        return text
    }
}

enum XMLText {
    static func decode(_ text: String) -> String {
        text.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&apos;", with: "'")
            .replacingOccurrences(of: "&amp;", with: "&")
    }
}
