import CurlHTTP
import Foundation
import Logging
import Providers
import Synchronization

/// The tunnel boundary on Cloudflare's API: GET and PUT
/// `/accounts/{account_id}/cfd_tunnel/{tunnel_id}/configurations` with a bearer API token.
///
/// - A tunnel's document is replaced whole (no PATCH, no If-Match): the fields besides
///   `ingress` and the rules' `originRequest` are written back as they were read.
/// - A write derived from a read (`configuration.version` set) first reads the version again and
///   refuses to overwrite a document another writer changed meanwhile (transient: the next pass
///   re-reads and merges). A write that still lands over another one (the version moved by more
///   than one) is logged: that writer's change is lost, and nothing in the API can recover it.
/// - After a 429 every call fails at once as throttled, without a request, until `Retry-After`
///   (or `throttleWithoutRetryAfter`) has passed: Cloudflare blocks the whole token meanwhile.
/// - The token is read once from the environment; it reaches the `Authorization` header and
///   nothing else (no log, no error, no description).
public struct CloudflareTunnelConfigProvider: TunnelConfigProvider {
    public let name = CloudflareFailure.provider
    public let settings: CloudflareSettings
    private let token: CloudflareAPIToken
    private let http = CurlHTTPClient()
    private let window = ThrottleGate()
    private let logger: Logger

    /// - Parameters:
    ///   - settings: checked here; the first wrong one is thrown.
    ///   - environment: where the token is read (`settings.tokenVariable`).
    ///   - logger: one debug line per call (method, tunnel, status, version), warnings for
    ///     throttling and overwritten writes.
    public init(
        settings: CloudflareSettings, environment: [String: String] = ProcessInfo.processInfo.environment,
        logger: Logger = Logger(label: "molecule.cloudflare", factory: { _ in SwiftLogNoOpLogHandler() })
    ) throws {
        self.settings = try settings.validated()
        self.token = try CloudflareAPIToken(environment: environment, variable: settings.tokenVariable)
        self.logger = logger
    }

    /// Never nil: Cloudflare has a document for every tunnel (a null `config` reads as no rules).
    public func read(tunnelID: String) async throws -> TunnelConfiguration? {
        try await fetch(tunnelID, operation: "read")
    }

    public func write(tunnelID: String, _ configuration: TunnelConfiguration) async throws {
        if let basis = configuration.version {
            let current = try await fetch(tunnelID, operation: "write")
            guard current.version == basis else {
                throw failure("write", tunnelID).error(
                    .transient,
                    "the configuration changed since it was read (version \(basis), now \(current.version.map(String.init) ?? "none")): another writer; not overwritten, retried from a fresh read"
                )
            }
        }
        let body = try CloudflareDocument.body(configuration)
        let written = try await send("PUT", tunnelID, body: body, operation: "write")
        if let basis = configuration.version, let version = written.version, version != basis + 1 {
            logger.warning(
                "Cloudflare tunnel configuration overwritten: another writer wrote between the check and the write; its change is lost",
                metadata: ["tunnel": "\(tunnelID)", "version.read": "\(basis)", "version.written": "\(version)"])
        }
    }

    private func fetch(_ tunnelID: String, operation: String) async throws -> TunnelConfiguration {
        try await send("GET", tunnelID, body: nil, operation: operation)
    }

    /// One call; the configuration in its `result`, or the classified failure.
    private func send(_ method: String, _ tunnelID: String, body: Data?, operation: String) async throws
        -> TunnelConfiguration
    {
        let failure = failure(operation, tunnelID)
        guard TunnelID.isValid(tunnelID) else {
            throw failure.error(.invalid, "tenants.tunnel_id: must be 1-128 of [A-Za-z0-9_-], starting with a letter or digit")
        }
        if let wait = window.remaining() {
            throw failure.error(
                .throttled(retryAfter: wait),
                "rate limited: no call until Cloudflare's block ends (\(wait.components.seconds) s more)")
        }
        var headers = ["Authorization": token.authorization, "Accept": "application/json"]
        if body != nil {
            headers["Content-Type"] = "application/json"
            // No `Expect: 100-continue` round trip before the body.
            headers["Expect"] = ""
        }
        let request = CurlHTTPClient.Request(
            method: method,
            url: "\(settings.apiBaseURL)/accounts/\(settings.accountID)/cfd_tunnel/\(tunnelID)/configurations",
            headers: headers, body: body, timeoutMilliseconds: Int(settings.requestTimeout / .milliseconds(1)))
        let response: CurlHTTPClient.Response
        do {
            response = try await http.send(request)
        } catch let transport as CurlHTTPClient.Failure {
            logger.debug("Cloudflare API call failed", metadata: ["method": "\(method)", "tunnel": "\(tunnelID)"])
            throw failure.transport(transport, mutating: body != nil)
        }
        logger.debug(
            "Cloudflare API call", metadata: ["method": "\(method)", "tunnel": "\(tunnelID)", "status": "\(response.status)"])
        let success = (200..<300).contains(response.status)
        guard let envelope = CloudflareDocument.envelope(response.body) else {
            if success { throw failure.unreadable(status: response.status, reason: "not JSON with a success field") }
            throw classified(response, failure)
        }
        guard success, envelope.success else { throw classified(response, failure) }
        do {
            return try CloudflareDocument.configuration(from: envelope.result)
        } catch let malformed as CloudflareDocument.Malformed {
            throw failure.unreadable(status: response.status, reason: malformed.reason)
        }
    }

    /// A failure answer; a 429 also closes the window for every call.
    private func classified(_ response: CurlHTTPClient.Response, _ failure: CloudflareFailure) -> ProviderError {
        var retryAfter: Duration?
        if response.status == 429 {
            let wait = response.headers.retryAfter(now: Date()) ?? settings.throttleWithoutRetryAfter
            window.block(for: wait)
            retryAfter = wait
            logger.warning(
                "Cloudflare API rate limit: every call waits", metadata: ["retry_after_s": "\(wait.components.seconds)"])
        }
        return failure.classify(status: response.status, body: response.body, retryAfter: retryAfter)
    }

    private func failure(_ operation: String, _ tunnelID: String) -> CloudflareFailure {
        // An ID the API cannot take is named, not reproduced: it may hold anything.
        CloudflareFailure(
            operation: operation, tunnelID: TunnelID.isValid(tunnelID) ? tunnelID : "(invalid id)", accountID: settings.accountID,
            tokenVariable: settings.tokenVariable, token: token)
    }
}

/// The throttle window shared by every call of one provider (one token).
final class ThrottleGate: Sendable {
    private let state = Mutex(ThrottleWindow())

    func remaining() -> Duration? {
        state.withLock { $0.remaining(at: .now) }
    }

    func block(for wait: Duration) {
        state.withLock { $0.block(for: wait, at: .now) }
    }
}
