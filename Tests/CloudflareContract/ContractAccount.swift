import Foundation
import Providers

/// What the contract server holds for one account: its tunnels' documents, what the tests asked
/// it to inject, and every request it answered. Each test takes an account of its own, so tests
/// sharing the server never see each other's state.
struct ContractAccount {
    struct Tunnel {
        /// `config` exactly as last PUT (an object), or `.null` for a tunnel never configured.
        var config: JSONValue = .null
        var version = 0
    }

    var tunnels: [String: Tunnel] = [:]
    /// The next this many requests are answered 429 (with `Retry-After` when set), as if over quota.
    var throttleNext = 0
    var throttleRetryAfter: Int?
    /// After a 429, Cloudflare blocks every call until then; a request arriving before is a
    /// client that did not honour the block.
    var blockedUntil: ContinuousClock.Instant?
    /// Answers to give, in order, instead of serving the next requests.
    var scripted: [CloudflareContractServer.ScriptedAnswer] = []
    /// Another writer's edit of a tunnel's rules, applied right after the next GET of it is answered.
    var afterNextRead: [String: CloudflareContractServer.Edit] = [:]
    /// Another writer's edit, applied when the next PUT of the tunnel arrives, before that PUT.
    var beforeNextWrite: [String: CloudflareContractServer.Edit] = [:]
    var requests: [CloudflareContractServer.RecordedRequest] = []

    /// Another writer's whole-document replace: its edit of the rules it read, version + 1.
    mutating func apply(_ edit: CloudflareContractServer.Edit, to tunnelID: String) {
        guard var tunnel = tunnels[tunnelID] else { return }
        var config: [String: JSONValue]
        if case .object(let fields) = tunnel.config { config = fields } else { config = [:] }
        var rules: [JSONValue]
        if case .array(let list)? = config["ingress"] { rules = list } else { rules = [] }
        edit(&rules)
        config["ingress"] = .array(rules)
        tunnel.config = .object(config)
        tunnel.version += 1
        tunnels[tunnelID] = tunnel
    }
}
