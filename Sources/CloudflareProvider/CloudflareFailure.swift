import CurlHTTP
import Foundation
import Providers

/// Classifies a failed call once, at the boundary, into the provider error classes. Texts from
/// the API are bounded, stripped of control characters and of the token (a server that echoes
/// the request is not trusted to leave it out); request bodies and headers are never included.
struct CloudflareFailure {
    /// What was being done, for the message.
    var operation: String
    var tunnelID: String
    var accountID: String
    var tokenVariable: String
    var token: CloudflareAPIToken

    static let provider = "cloudflare tunnels"

    /// Error codes Cloudflare answers for a token that is missing, malformed, invalid or not
    /// allowed, whatever the HTTP status ([3p]: 6003/6111 invalid Authorization header with 400,
    /// 9106 missing credentials, 9109 invalid access token and 10000 authentication error with 403).
    static let authenticationCodes: Set<Int> = [6003, 6111, 9106, 9109, 10000]

    /// An HTTP answer that is not a success, or a success whose envelope says `success: false`.
    func classify(status: Int, body: Data, retryAfter: Duration?) -> ProviderError {
        let errors = CloudflareDocument.envelope(body)?.errors ?? []
        let codes = Set(errors.compactMap(\.code))
        let detail = detail(status: status, errors)
        if status == 429 {
            let wait = retryAfter.map { "every call waits \($0.components.seconds) s (Retry-After)" } ?? "every call waits"
            return error(.throttled(retryAfter: retryAfter), "rate limited (\(detail)); \(wait)")
        }
        if status >= 500 || status == 408 || status == 409 {
            return error(.transient, "Cloudflare API unavailable (\(detail))")
        }
        if status == 401 || status == 403 || !codes.isDisjoint(with: Self.authenticationCodes) {
            return error(
                .invalid,
                "authentication failed (\(detail)): the API token in \(tokenVariable) must be valid for account \(accountID) and carry the permission Cloudflare Tunnel: Edit"
            )
        }
        if status == 404 {
            return error(
                .invalid,
                "tunnel \(tunnelID) not found in account \(accountID) (\(detail)): check tenants.tunnel_id and the Cloudflare account id; the tunnel must exist and be remotely managed (config_src cloudflare)"
            )
        }
        return error(.invalid, "refused (\(detail))")
    }

    /// A success status whose body is not the v4 envelope (a proxy's page, a truncated body).
    func unreadable(status: Int, reason: String) -> ProviderError {
        error(.transient, "HTTP \(status): the answer is not Cloudflare's v4 envelope (\(reason)); nothing is written over it")
    }

    /// No HTTP answer. A read has no side effect; a write that timed out may have happened.
    func transport(_ failure: CurlHTTPClient.Failure, mutating: Bool) -> ProviderError {
        let kind: ProviderError.Kind = mutating ? (failure.isTimeout ? .timeout : .transient) : .unreachable
        return error(kind, "no answer from the Cloudflare API: \(scrub(failure.description))")
    }

    func error(_ kind: ProviderError.Kind, _ message: String) -> ProviderError {
        ProviderError(kind, provider: Self.provider, operation: operation, message: "tunnel \(tunnelID): \(message)")
    }

    /// `HTTP 403; 9109: Invalid access token` — at most three errors, each message bounded.
    private func detail(status: Int, _ errors: [CloudflareDocument.APIError]) -> String {
        let listed = errors.prefix(3).map { error -> String in
            let code = error.code.map(String.init) ?? "?"
            return error.message.map { "\(code): \(scrub($0))" } ?? code
        }
        return (["HTTP \(status)"] + listed).joined(separator: "; ")
    }

    /// At most 200 characters, no control characters, and never the token.
    func scrub(_ text: String) -> String {
        var clean = String(
            String.UnicodeScalarView(text.unicodeScalars.map { $0.properties.generalCategory == .control ? " " : $0 }))
        clean = clean.replacingOccurrences(of: token.value, with: "<redacted>")
        return clean.count > 200 ? String(clean.prefix(200)) + "…" : clean
    }
}
