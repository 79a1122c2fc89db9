import Foundation
import Providers

/// What a test does to the server: accounts, tokens and tunnels to start from, faults to inject,
/// and what the server saw. Everything is per account.
extension CloudflareContractServer {
    /// A new account (32 hex digits, like Cloudflare's) that `token` may edit.
    public func addAccount(token: String) -> String {
        let accountID = UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        withState {
            $0.accounts[accountID] = ContractAccount()
            $0.tokens[token, default: []].insert(accountID)
        }
        return accountID
    }

    /// A token that authenticates but may edit no account.
    public func addToken(_ token: String) {
        withState { if $0.tokens[token] == nil { $0.tokens[token] = [] } }
    }

    /// A remotely-managed tunnel with this `config` (`.null`: never configured, version 0).
    @discardableResult
    public func createTunnel(
        account: String, id: String = UUID().uuidString.lowercased(), config: JSONValue = .null, version: Int = 0
    ) -> String {
        withState { $0.accounts[account]?.tunnels[id] = .init(config: config, version: version) }
        return id
    }

    /// The tunnel's stored `config` and `version`.
    public func tunnel(account: String, id: String) -> (config: JSONValue, version: Int)? {
        withState { $0.accounts[account]?.tunnels[id].map { ($0.config, $0.version) } }
    }

    /// The next `count` requests of the account answer 429, with `Retry-After: retryAfter` when
    /// set; then every call is blocked for that long, as Cloudflare does.
    public func throttle(account: String, next count: Int, retryAfter: Int?) {
        withState {
            $0.accounts[account]?.throttleNext = count
            $0.accounts[account]?.throttleRetryAfter = retryAfter
        }
    }

    /// The next requests of the account get these answers, in order.
    public func script(account: String, _ answers: [ScriptedAnswer]) {
        withState { $0.accounts[account]?.scripted += answers }
    }

    /// Another writer edits the tunnel's rules right after the next GET of it has been answered:
    /// between a client's read and its write.
    public func writeAfterNextRead(account: String, tunnel: String, _ edit: @escaping Edit) {
        withState { $0.accounts[account]?.afterNextRead[tunnel] = edit }
    }

    /// Another writer edits the tunnel's rules when the next PUT of it arrives, just before it.
    public func writeBeforeNextWrite(account: String, tunnel: String, _ edit: @escaping Edit) {
        withState { $0.accounts[account]?.beforeNextWrite[tunnel] = edit }
    }

    /// Another writer (the dashboard, a person) edits the tunnel's rules now.
    public func writeNow(account: String, tunnel: String, _ edit: @escaping Edit) {
        withState { $0.accounts[account]?.apply(edit, to: tunnel) }
    }

    /// Every request of the account, in arrival order.
    public func requests(account: String) -> [RecordedRequest] {
        withState { $0.accounts[account]?.requests ?? [] }
    }
}
