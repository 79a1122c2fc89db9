import Foundation
import Providers

/// The contract server's whole state and its answer to one request, without I/O: the HTTP
/// shell calls `answer` under a lock, so a request is served atomically.
struct ContractState {
    var accounts: [String: ContractAccount] = [:]
    /// token -> the accounts it may edit tunnels of.
    var tokens: [String: Set<String>] = [:]

    struct Answer {
        var status: Int
        var headers: [(String, String)] = []
        var body: String
    }

    mutating func answer(
        method: String, accountID: String, tunnelID: String, authorization: String?, body: Data?,
        now: ContinuousClock.Instant
    ) -> Answer {
        let blocked = accounts[accountID]?.blockedUntil.map { now < $0 } ?? false
        let answer = serve(
            method: method, accountID: accountID, tunnelID: tunnelID, authorization: authorization, body: body, now: now)
        accounts[accountID]?.requests.append(
            .init(
                method: method, tunnelID: tunnelID, status: answer.status, at: now, duringBlock: blocked,
                authorization: authorization))
        return answer
    }

    private mutating func serve(
        method: String, accountID: String, tunnelID: String, authorization: String?, body: Data?,
        now: ContinuousClock.Instant
    ) -> Answer {
        // Over quota first: Cloudflare's rate limiter answers before anything else is looked at.
        if var account = accounts[accountID] {
            if let until = account.blockedUntil, now < until {
                let seconds = Int((until - now) / .seconds(1)) + 1
                return Self.throttled(retryAfter: seconds)
            }
            if account.throttleNext > 0 {
                account.throttleNext -= 1
                if let seconds = account.throttleRetryAfter { account.blockedUntil = now + .seconds(seconds) }
                accounts[accountID] = account
                return Self.throttled(retryAfter: account.throttleRetryAfter)
            }
            if !account.scripted.isEmpty {
                let scripted = account.scripted.removeFirst()
                accounts[accountID] = account
                return scripted.answer(authorization: authorization)
            }
        }
        guard let authorization, authorization.hasPrefix("Bearer "), authorization.count > 7 else {
            return Self.failure(
                400,
                [
                    .object([
                        "code": .integer(6003), "message": .string("Invalid request headers"),
                        "error_chain": .array([
                            .object(["code": .integer(6111), "message": .string("Invalid format for Authorization header")])
                        ]),
                    ])
                ])
        }
        guard let allowed = tokens[String(authorization.dropFirst(7))] else {
            return Self.failure(403, [Self.error(9109, "Invalid access token")])
        }
        guard allowed.contains(accountID), var account = accounts[accountID] else {
            return Self.failure(403, [Self.error(10000, "Authentication error")])
        }
        guard let tunnel = account.tunnels[tunnelID] else {
            return Self.failure(
                404,
                [
                    Self.error(
                        7003,
                        "Could not route to /accounts/\(accountID)/cfd_tunnel/\(tunnelID)/configurations, perhaps your object identifier is invalid?"
                    )
                ])
        }
        switch method {
        case "GET":
            let answer = Self.success(result(accountID, tunnelID, tunnel))
            if let edit = account.afterNextRead.removeValue(forKey: tunnelID) { account.apply(edit, to: tunnelID) }
            accounts[accountID] = account
            return answer
        case "PUT":
            guard let body, let document = try? JSONDecoder().decode(JSONValue.self, from: body) else {
                return Self.failure(400, [Self.error(1001, "Invalid JSON in request body")])
            }
            if let refusal = ContractRules.validate(document) {
                return Self.failure(400, [Self.error(refusal.code, refusal.message)])
            }
            if let edit = account.beforeNextWrite.removeValue(forKey: tunnelID) { account.apply(edit, to: tunnelID) }
            var stored = account.tunnels[tunnelID] ?? tunnel
            // A full replace: whatever was there before is gone.
            stored.config = document["config"] ?? .null
            stored.version += 1
            account.tunnels[tunnelID] = stored
            accounts[accountID] = account
            return Self.success(result(accountID, tunnelID, stored))
        default:
            return Self.failure(405, [Self.error(10405, "Method not allowed for this route")])
        }
    }

    private func result(_ accountID: String, _ tunnelID: String, _ tunnel: ContractAccount.Tunnel) -> JSONValue {
        .object([
            "tunnel_id": .string(tunnelID), "account_id": .string(accountID), "version": .integer(Int64(tunnel.version)),
            "config": tunnel.config, "source": .string("cloudflare"), "created_at": .string("2026-11-22T08:00:00Z"),
        ])
    }

    static func error(_ code: Int, _ message: String) -> JSONValue {
        .object(["code": .integer(Int64(code)), "message": .string(message)])
    }

    /// The v4 envelope.
    static func envelope(success: Bool, result: JSONValue, errors: [JSONValue]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let document = JSONValue.object([
            "result": result, "success": .bool(success), "errors": .array(errors), "messages": .array([]),
        ])
        // Encoding a JSONValue cannot fail: every case is a JSON value.
        return String(decoding: (try? encoder.encode(document)) ?? Data(), as: UTF8.self)
    }

    static func success(_ result: JSONValue) -> Answer {
        Answer(status: 200, body: envelope(success: true, result: result, errors: []))
    }

    static func failure(_ status: Int, _ errors: [JSONValue]) -> Answer {
        Answer(status: status, body: envelope(success: false, result: .null, errors: errors))
    }

    /// 429 with Cloudflare's headers; `Retry-After` only when given.
    static func throttled(retryAfter: Int?) -> Answer {
        var answer = failure(429, [error(971, "Please wait and consider throttling your request speed")])
        answer.headers = [
            ("Ratelimit", "\"default\";r=0;t=\(retryAfter ?? 300)"), ("Ratelimit-Policy", "\"default\";q=1200;w=300"),
        ]
        if let retryAfter { answer.headers.append(("Retry-After", "\(retryAfter)")) }
        return answer
    }
}
