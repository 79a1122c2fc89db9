import CloudflareContract
import CloudflareProvider
import Foundation
import IngressModel
import Providers
import Testing

@Suite("Cloudflare provider against the contract server")
struct CloudflareProviderContractTests {
    /// Another system's part of a shared tunnel: a rule with origin settings, and the document's
    /// own `originRequest` and `warp-routing`.
    static let foreignConfig: JSONValue = .object([
        "ingress": .array([
            .rule(
                "legacy.example.com", "http://10.9.9.9:8080",
                originRequest: .object(["connectTimeout": .integer(10), "noTLSVerify": .bool(false)])),
            .catchAll,
        ]),
        "originRequest": .object(["connectTimeout": .integer(30), "httpHostHeader": .string("edge.internal")]),
        "warp-routing": .object(["enabled": .bool(false)]),
    ])

    @Test("GET then PUT: the rendered ingress in the API's shape, fields and rules not ours kept, version checked then moved")
    func roundTrip() async throws {
        let fixture = try await ProviderFixture()
        let tunnel = fixture.server.createTunnel(account: fixture.account, config: Self.foreignConfig, version: 3)
        let provider = try fixture.provider()

        let current = try #require(try await provider.read(tunnelID: tunnel))
        #expect(current.version == 3)
        #expect(
            current.ingress.first
                == IngressRule(
                    hostname: "legacy.example.com", service: "http://10.9.9.9:8080",
                    originRequest: .object(["connectTimeout": .integer(10), "noTLSVerify": .bool(false)])))
        #expect(Set(current.otherFields.keys) == ["originRequest", "warp-routing"])

        let ours = try IngressRenderer.render(
            hostname: "acme.example.com", services: ["platform": "http://10.0.1.1:8080", "app": "http://10.0.1.1:3000"],
            paths: [("/api/*", "platform")]
        ).rules
        try await provider.write(tunnelID: tunnel, IngressRenderer.merge(current, hostname: "acme.example.com", rules: ours))

        let stored = try #require(fixture.server.tunnel(account: fixture.account, id: tunnel))
        #expect(stored.version == 4)
        #expect(
            stored.config.ingress == [
                .rule("acme.example.com", path: "^/api(/|$)", "http://10.0.1.1:8080"),
                .rule("acme.example.com", "http://10.0.1.1:3000"),
                .rule(
                    "legacy.example.com", "http://10.9.9.9:8080",
                    originRequest: .object(["connectTimeout": .integer(10), "noTLSVerify": .bool(false)])),
                .catchAll,
            ])
        #expect(stored.config["originRequest"] == Self.foreignConfig["originRequest"])
        #expect(stored.config["warp-routing"] == Self.foreignConfig["warp-routing"])
        // The read, the write's check of the version, the write; each with the bearer token.
        #expect(fixture.calls() == ["GET 200", "GET 200", "PUT 200"])
        #expect(fixture.server.requests(account: fixture.account).allSatisfy { $0.authorization == "Bearer \(fixture.token)" })

        let again = try #require(try await provider.read(tunnelID: tunnel))
        #expect(again.version == 4 && again.rules(for: "acme.example.com") == ours)

        // A tunnel never configured has a null config: no rules, version 0.
        let fresh = fixture.server.createTunnel(account: fixture.account)
        #expect(try await provider.read(tunnelID: fresh) == TunnelConfiguration(ingress: [], version: 0))
    }

    @Test(
        "a token Cloudflare refuses, or one not allowed on the account, is terminal: the variable, the permission and the codes are named"
    )
    func authenticationFailures() async throws {
        let fixture = try await ProviderFixture()
        let tunnel = fixture.server.createTunnel(account: fixture.account)

        let unknown = try await #require(throws: ProviderError.self) {
            try await fixture.provider(token: "not-a-token-cloudflare-knows").read(tunnelID: tunnel)
        }
        #expect(unknown.kind == .invalid && unknown.isTerminal)
        #expect(unknown.description.contains("HTTP 403; 9109: Invalid access token"))
        #expect(unknown.description.contains("CLOUDFLARE_API_TOKEN") && unknown.description.contains("Cloudflare Tunnel: Edit"))

        let elsewhere = "cf-other-\(UUID().uuidString)"
        fixture.server.addToken(elsewhere)
        let denied = try await #require(throws: ProviderError.self) {
            try await fixture.provider(token: elsewhere).write(
                tunnelID: tunnel, TunnelConfiguration(ingress: [IngressRenderer.catchAll]))
        }
        #expect(denied.kind == .invalid && denied.description.contains("HTTP 403; 10000: Authentication error"))
        #expect(denied.failure.reason == "ProviderRejected")
        #expect(fixture.server.tunnel(account: fixture.account, id: tunnel)?.version == 0, "nothing was written")

        #expect(throws: CloudflareSettingsError.self) {
            try CloudflareTunnelConfigProvider(settings: fixture.settings, environment: [:])
        }
        let missing = #expect(throws: CloudflareSettingsError.self) {
            try CloudflareTunnelConfigProvider(settings: fixture.settings, environment: ["CLOUDFLARE_API_TOKEN": "  "])
        }
        #expect(missing?.description.contains("CLOUDFLARE_API_TOKEN: not set") == true)
    }

    @Test("an unknown tunnel is terminal, and the message names the tunnel, the account and what to check")
    func unknownTunnel() async throws {
        let fixture = try await ProviderFixture()
        let error = try await #require(throws: ProviderError.self) {
            try await fixture.provider().read(tunnelID: "0b7c9a5e-7a5d-4e64-9f0e-2f3d1c5b6a79")
        }
        #expect(error.kind == .invalid && error.isTerminal)
        #expect(error.description.contains("tunnel 0b7c9a5e-7a5d-4e64-9f0e-2f3d1c5b6a79 not found in account \(fixture.account)"))
        #expect(error.description.contains("HTTP 404; 7003:") && error.description.contains("tenants.tunnel_id"))
    }

    @Test("error envelopes and bodies map onto the error classes with Cloudflare's codes")
    func errorClasses() async throws {
        let fixture = try await ProviderFixture()
        let tunnel = fixture.server.createTunnel(account: fixture.account)
        let provider = try fixture.provider()
        fixture.server.script(
            account: fixture.account,
            [
                .failure(status: 500, errors: [(10000, "Internal server error")]),
                .raw(status: 502, body: "<html><body>502 Bad Gateway</body></html>"),
                .raw(status: 200, body: "<html>maintenance</html>"),
                .failure(status: 200, errors: [(1001, "Invalid request")]),
            ])
        var errors: [ProviderError] = []
        for _ in 0..<4 {
            errors.append(try await #require(throws: ProviderError.self) { try await provider.read(tunnelID: tunnel) })
        }
        #expect(errors[0].kind == .transient && errors[0].description.contains("HTTP 500; 10000: Internal server error"))
        #expect(errors[1].kind == .transient && errors[1].description.contains("HTTP 502"))
        #expect(errors[2].kind == .transient && errors[2].description.contains("not Cloudflare's v4 envelope"))
        #expect(errors[3].kind == .invalid && errors[3].description.contains("HTTP 200; 1001: Invalid request"))

        // The API's own validation: the last rule must match everything (400, code 1056).
        let noCatchAll = TunnelConfiguration(ingress: [IngressRule(hostname: "acme.example.com", service: "http://10.0.1.1:3000")]
        )
        let refused = try await #require(throws: ProviderError.self) { try await provider.write(tunnelID: tunnel, noCatchAll) }
        #expect(refused.kind == .invalid && refused.isTerminal)
        #expect(
            refused.description.contains(
                "HTTP 400; 1056: Bad Configuration: Validation failed: The last ingress rule must match all URLs"))

        // Nothing listening: a read is unreachable, a write transient (nothing was sent).
        let nowhere = try fixture.provider { $0.apiBaseURL = "http://127.0.0.1:1/client/v4" }
        let unreachable = try await #require(throws: ProviderError.self) { try await nowhere.read(tunnelID: tunnel) }
        #expect(unreachable.kind == .unreachable && unreachable.description.contains("no answer from the Cloudflare API"))
        let unsent = try await #require(throws: ProviderError.self) {
            try await nowhere.write(tunnelID: tunnel, TunnelConfiguration(ingress: [IngressRenderer.catchAll]))
        }
        #expect(unsent.kind == .transient)
    }

    @Test("a 429 storm: Retry-After honoured, and no call reaches Cloudflare while it blocks the token")
    func throttling() async throws {
        let fixture = try await ProviderFixture()
        let tunnels = (0..<4).map { _ in fixture.server.createTunnel(account: fixture.account) }
        let provider = try fixture.provider()
        fixture.server.throttle(account: fixture.account, next: 2, retryAfter: 1)

        let first = try await #require(throws: ProviderError.self) { try await provider.read(tunnelID: tunnels[0]) }
        #expect(first.kind == .throttled(retryAfter: .seconds(1)))
        #expect(first.failure.reason == "ProviderThrottled" && first.failure.retryAfter == .seconds(1))
        // Every other tunnel of the token waits too, without a request.
        for tunnel in tunnels {
            let waiting = try await #require(throws: ProviderError.self) { try await provider.read(tunnelID: tunnel) }
            guard case .throttled(let after?) = waiting.kind else {
                Issue.record("not throttled: \(waiting)")
                continue
            }
            #expect(after > .zero && after <= .seconds(1))
        }
        #expect(fixture.calls() == ["GET 429"])

        // The storm goes on: once the wait is over the next call is throttled again, then served.
        var reads = 0
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            do {
                _ = try await provider.read(tunnelID: tunnels[1])
                reads += 1
                break
            } catch let error as ProviderError {
                guard case .throttled(let after?) = error.kind else { throw error }
                try await Task.sleep(for: after)
            }
        }
        #expect(reads == 1)
        let seen = fixture.server.requests(account: fixture.account)
        #expect(seen.map(\.status) == [429, 429, 200])
        #expect(seen.allSatisfy { !$0.duringBlock }, "no request arrived while Cloudflare blocked the token")
        for (earlier, later) in zip(seen, seen.dropFirst()) {
            #expect(later.at - earlier.at >= .seconds(1))
        }
        #expect(
            fixture.log.all.contains {
                $0.contains("Cloudflare API rate limit: every call waits") && $0.contains("retry_after_s=1")
            })

        // A 429 without Retry-After: the configured wait (Cloudflare's is 5 minutes).
        let other = try await ProviderFixture()
        let quiet = try other.provider { $0.throttleWithoutRetryAfter = .seconds(7) }
        other.server.throttle(account: other.account, next: 1, retryAfter: nil)
        let unsaid = try await #require(throws: ProviderError.self) {
            try await quiet.read(tunnelID: other.server.createTunnel(account: other.account))
        }
        #expect(unsaid.kind == .throttled(retryAfter: .seconds(7)))
    }

    @Test(
        "a write derived from a read refuses to overwrite another writer's change made in between; the next read-merge-write keeps both"
    )
    func concurrentWriter() async throws {
        let fixture = try await ProviderFixture()
        let tunnel = fixture.server.createTunnel(
            account: fixture.account, config: .object(["ingress": .array([.catchAll])]), version: 1)
        let provider = try fixture.provider()
        let ours = [IngressRule(hostname: "acme.example.com", service: "http://10.0.1.1:3000")]
        fixture.server.writeAfterNextRead(account: fixture.account, tunnel: tunnel) { rules in
            rules.insert(.rule("partner.example.com", "http://10.7.7.7:80"), at: 0)
        }

        let stale = try #require(try await provider.read(tunnelID: tunnel))
        let conflict = try await #require(throws: ProviderError.self) {
            try await provider.write(tunnelID: tunnel, IngressRenderer.merge(stale, hostname: "acme.example.com", rules: ours))
        }
        #expect(conflict.kind == .transient && !conflict.isTerminal)
        #expect(conflict.description.contains("changed since it was read (version 1, now 2)"))
        #expect(!fixture.calls().contains { $0.hasPrefix("PUT") }, "nothing written over the other writer's change")

        let fresh = try #require(try await provider.read(tunnelID: tunnel))
        try await provider.write(tunnelID: tunnel, IngressRenderer.merge(fresh, hostname: "acme.example.com", rules: ours))
        let stored = try #require(fixture.server.tunnel(account: fixture.account, id: tunnel))
        #expect(stored.config.ingress.compactMap { $0["hostname"]?.stringValue } == ["acme.example.com", "partner.example.com"])
        #expect(stored.version == 3)

        // A write landing between the check and the PUT cannot be prevented (no If-Match): the
        // version says so afterwards, and it is logged.
        fixture.server.writeBeforeNextWrite(account: fixture.account, tunnel: tunnel) { rules in
            rules.insert(.rule("late.example.com", "http://10.8.8.8:80"), at: 0)
        }
        let current = try #require(try await provider.read(tunnelID: tunnel))
        try await provider.write(
            tunnelID: tunnel,
            IngressRenderer.merge(
                current, hostname: "acme.example.com",
                rules: [IngressRule(hostname: "acme.example.com", service: "http://10.0.1.2:3000")]))
        #expect(fixture.server.tunnel(account: fixture.account, id: tunnel)?.version == 5)
        #expect(
            fixture.log.all.contains {
                $0.contains("another writer wrote between the check and the write") && $0.contains("version.written=5")
            })
    }

    @Test("the token never reaches an error, a log line or a description, even from a server that echoes it")
    func tokenNeverShown() async throws {
        let marker = "cf-marker-\(UUID().uuidString)"
        let fixture = try await ProviderFixture(token: marker)
        let tunnel = fixture.server.createTunnel(account: fixture.account)
        let provider = try fixture.provider()
        fixture.server.script(
            account: fixture.account,
            [.echoAuthorization, .failure(status: 403, errors: [(10000, "Authentication error for \(marker)")])])
        var said: [String] = []
        for _ in 0..<2 {
            let error = try await #require(throws: ProviderError.self) { try await provider.read(tunnelID: tunnel) }
            said += [error.description, "\(error)", String(reflecting: error), error.failure.message]
        }
        #expect(said[0].contains("could not parse 'Bearer <redacted>'"), "the echo was received and scrubbed")
        fixture.server.throttle(account: fixture.account, next: 1, retryAfter: 1)
        for operation in 0..<2 {
            do {
                if operation == 0 {
                    _ = try await provider.read(tunnelID: tunnel)
                } else {
                    try await provider.write(tunnelID: tunnel, TunnelConfiguration(ingress: [IngressRenderer.catchAll]))
                }
            } catch {
                said.append(String(reflecting: error))
            }
        }
        for variable in ["CLOUDFLARE_API_TOKEN", "MY_TOKEN"] {
            let invalid = #expect(throws: CloudflareSettingsError.self) {
                try CloudflareTunnelConfigProvider(
                    settings: CloudflareSettings(accountID: fixture.account, tokenVariable: variable),
                    environment: [variable: "\(marker) \(marker)"])
            }
            said.append(invalid.map { "\($0)" } ?? "")
            _ = try CloudflareTunnelConfigProvider(
                settings: CloudflareSettings(accountID: fixture.account, tokenVariable: variable), environment: [variable: marker]
            )
        }
        var dumped = ""
        dump(provider, to: &dumped)
        said += ["\(provider)", String(reflecting: provider), dumped]
        said += fixture.log.all
        #expect(fixture.log.all.count >= 4, "the calls were logged")
        #expect(
            fixture.server.requests(account: fixture.account).contains { $0.authorization == "Bearer \(marker)" },
            "the token was sent, in the header")
        #expect(said.allSatisfy { !$0.contains(marker) }, "\(said.filter { $0.contains(marker) })")
    }

    @Test(
        "settings: the account id, an https base URL (http only on loopback), positive rates are checked",
        arguments: [
            ("", CloudflareSettings.defaultAPIBaseURL, "Cloudflare account id"),
            ("abc/../x", CloudflareSettings.defaultAPIBaseURL, "Cloudflare account id"),
            ("0123456789abcdef0123456789abcdef", "http://api.example.com/client/v4", "must be https"),
            ("0123456789abcdef0123456789abcdef", "https://user:pw@api.example.com/client/v4", "without query or credentials"),
        ])
    func settingsChecked(account: String, base: String, expected: String) {
        let error = #expect(throws: CloudflareSettingsError.self) {
            try CloudflareTunnelConfigProvider(
                settings: CloudflareSettings(accountID: account, apiBaseURL: base), environment: ["CLOUDFLARE_API_TOKEN": "t"])
        }
        #expect(error?.description.contains(expected) == true, "\(String(describing: error))")
    }
}
