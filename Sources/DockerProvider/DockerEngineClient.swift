import CurlHTTP
import Foundation
import Providers

/// The Engine API over the engine's unix socket, with the API version pinned in every path.
/// Answers outside 2xx become `ProviderError`s carrying the engine's own message (the engine
/// never echoes a request body, and no request of this provider carries a secret).
struct DockerEngineClient: Sendable {
    let settings: DockerSettings
    private let client = CurlHTTPClient()

    init(settings: DockerSettings) {
        self.settings = settings
    }

    struct Answer: Sendable {
        var status: Int
        var body: Data
    }

    /// Sends one request; `versioned: false` for `/_ping`, which has no version prefix.
    func send(
        _ method: String, _ path: String, query: [(String, String)] = [], json: Data? = nil, versioned: Bool = true,
        operation: String, extraMilliseconds: Int = 0
    ) async throws -> Answer {
        let prefix = versioned ? "/v\(settings.apiVersion)" : ""
        let url = "http://localhost\(prefix)\(path)\(Self.encode(query))"
        var headers: [String: String] = [:]
        if json != nil { headers["Content-Type"] = "application/json" }
        let response: CurlHTTPClient.Response
        do {
            response = try await client.send(
                .init(
                    method: method, url: url, headers: headers, body: json,
                    timeoutMilliseconds: settings.requestTimeoutMilliseconds + extraMilliseconds,
                    unixSocketPath: settings.socketPath))
        } catch let failure as CurlHTTPClient.Failure {
            // Connection refused or no socket: nothing happened. A timeout: it may have.
            throw ProviderError(
                failure.isTimeout ? .timeout : .unreachable, provider: "instances", operation: operation,
                message: "the Docker Engine at \(settings.socketPath) does not answer: \(failure.message)")
        }
        return Answer(status: response.status, body: response.body)
    }

    /// The engine's `{"message": ...}` of a failed answer, classified.
    func failure(_ answer: Answer, operation: String) -> ProviderError {
        let message = Self.engineMessage(answer.body) ?? "HTTP \(answer.status)"
        let kind: ProviderError.Kind
        switch answer.status {
        case 404: kind = .notFound
        case 409: kind = .transient
        case 429: kind = .throttled(retryAfter: nil)
        case 400, 401, 403, 406, 413, 415, 422: kind = .invalid
        case 500..<600: kind = .transient
        default: kind = .invalid
        }
        return ProviderError(kind, provider: "instances", operation: operation, message: "Docker Engine: \(message)")
    }

    static func engineMessage(_ body: Data) -> String? {
        struct Message: Decodable { var message: String }
        return (try? JSONDecoder().decode(Message.self, from: body))?.message
    }

    private static func encode(_ query: [(String, String)]) -> String {
        guard !query.isEmpty else { return "" }
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return "?"
            + query.map { name, value in
                "\(name)=\(value.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")"
            }.joined(separator: "&")
    }
}
