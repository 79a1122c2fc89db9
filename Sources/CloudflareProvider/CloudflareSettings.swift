import Foundation

/// How the Cloudflare tunnel provider reaches the API. Everything but the token; the token is
/// read from the environment (`tokenVariable`) and never stored here.
public struct CloudflareSettings: Sendable, Equatable {
    /// The account that owns the tunnels (`/accounts/{account_id}/...`): 1-64 of `[A-Za-z0-9]`
    /// (Cloudflare's are 32 hex digits). Required.
    public var accountID: String
    /// The v4 API's base URL. Default `https://api.cloudflare.com/client/v4`. Must be `https`,
    /// except on loopback (a local contract server): the token is never sent in clear text.
    public var apiBaseURL: String
    /// The environment variable that holds the API token. Default `CLOUDFLARE_API_TOKEN`.
    public var tokenVariable: String
    /// The provider limiter's rate, in requests per second. Default 3: under Cloudflare's
    /// 1,200 requests per 5 minutes per token (4/s), leaving room for the DNS calls.
    public var requestsPerSecond: Double
    /// Requests the limiter allows at once. Default 20.
    public var burst: Int
    /// Whole-request timeout. Default 10 s.
    public var requestTimeout: Duration
    /// How long every call waits after a 429 that carries no `Retry-After`. Default 300 s:
    /// Cloudflare blocks every call of the token for 5 minutes once it is over its quota.
    public var throttleWithoutRetryAfter: Duration

    public static let defaultAPIBaseURL = "https://api.cloudflare.com/client/v4"
    public static let defaultTokenVariable = "CLOUDFLARE_API_TOKEN"

    public init(
        accountID: String, apiBaseURL: String = defaultAPIBaseURL, tokenVariable: String = defaultTokenVariable,
        requestsPerSecond: Double = 3, burst: Int = 20, requestTimeout: Duration = .seconds(10),
        throttleWithoutRetryAfter: Duration = .seconds(300)
    ) {
        self.accountID = accountID
        self.apiBaseURL = apiBaseURL
        self.tokenVariable = tokenVariable
        self.requestsPerSecond = requestsPerSecond
        self.burst = burst
        self.requestTimeout = requestTimeout
        self.throttleWithoutRetryAfter = throttleWithoutRetryAfter
    }

    /// Every setting checked; the first wrong one is named with its reason.
    func validated() throws -> CloudflareSettings {
        guard (1...64).contains(accountID.count), accountID.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) })
        else {
            throw CloudflareSettingsError(
                "Cloudflare account id: must be 1-64 of [A-Za-z0-9] (the 32 hex digits of the dashboard's Account ID)")
        }
        var base = apiBaseURL
        while base.hasSuffix("/") { base.removeLast() }
        guard let components = URLComponents(string: base), let scheme = components.scheme?.lowercased(),
            let host = components.host, !host.isEmpty, components.query == nil, components.fragment == nil,
            components.user == nil, components.password == nil
        else {
            throw CloudflareSettingsError(
                "Cloudflare API base URL: '\(apiBaseURL.prefix(200))' is not an http(s) URL without query or credentials")
        }
        let loopback = ["127.0.0.1", "localhost", "::1"].contains(host.lowercased())
        guard scheme == "https" || (scheme == "http" && loopback) else {
            throw CloudflareSettingsError(
                "Cloudflare API base URL: must be https (http only on loopback), so that the token is never sent in clear text")
        }
        guard requestsPerSecond > 0, requestsPerSecond.isFinite else {
            throw CloudflareSettingsError("Cloudflare requests per second: must be a positive number")
        }
        guard burst >= 1 else { throw CloudflareSettingsError("Cloudflare burst: must be at least 1") }
        guard requestTimeout > .zero else { throw CloudflareSettingsError("Cloudflare request timeout: must be positive") }
        guard throttleWithoutRetryAfter >= .zero else {
            throw CloudflareSettingsError("Cloudflare throttle without Retry-After: must not be negative")
        }
        var checked = self
        checked.apiBaseURL = base
        return checked
    }
}

/// A setting of the Cloudflare provider that is missing or wrong: names the setting and the
/// reason, never a token.
public struct CloudflareSettingsError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String

    init(_ description: String) {
        self.description = description
    }
}
