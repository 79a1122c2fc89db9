import CloudflareContract
import CloudflareProvider
import Foundation
import Logging
import Providers

/// An account of its own on the shared contract server, with its token, and providers on it.
struct ProviderFixture {
    let server: CloudflareContractServer
    let account: String
    let token: String
    let log = CapturedLog()

    init(token: String = "cf-test-\(UUID().uuidString)") async throws {
        server = try await CloudflareContractServer.shared()
        self.token = token
        account = server.addAccount(token: token)
    }

    var settings: CloudflareSettings {
        CloudflareSettings(accountID: account, apiBaseURL: server.apiBaseURL, requestTimeout: .seconds(5))
    }

    /// A provider on this account; `token` overrides the environment's token.
    func provider(token: String? = nil, _ change: (inout CloudflareSettings) -> Void = { _ in }) throws
        -> CloudflareTunnelConfigProvider
    {
        var settings = settings
        change(&settings)
        return try CloudflareTunnelConfigProvider(
            settings: settings, environment: [settings.tokenVariable: token ?? self.token], logger: log.logger)
    }

    /// The methods the server saw for the account, in order (`GET t1`, `PUT t1`...).
    func calls() -> [String] {
        server.requests(account: account).map { "\($0.method) \($0.status)" }
    }
}

extension JSONValue {
    /// A rule as the API spells it.
    static func rule(_ hostname: String? = nil, path: String? = nil, _ service: String, originRequest: JSONValue? = nil)
        -> JSONValue
    {
        var fields: [String: JSONValue] = ["service": .string(service)]
        if let hostname { fields["hostname"] = .string(hostname) }
        if let path { fields["path"] = .string(path) }
        if let originRequest { fields["originRequest"] = originRequest }
        return .object(fields)
    }

    /// The catch-all rule as the API spells it.
    static let catchAll: JSONValue = .object(["service": .string("http_status:404")])

    /// The `ingress` of a stored `config`.
    var ingress: [JSONValue] {
        if case .array(let rules)? = self["ingress"] { return rules }
        return []
    }
}
