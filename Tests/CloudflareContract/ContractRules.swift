import Providers

/// The validation Cloudflare applies to a PUT configuration that the reference documents (the
/// last rule must match everything: 400 with code 1056 and cloudflared's text; a hostname has at
/// most one `*`, leading, and no port; the service forms). The other codes used here are
/// illustrative: what matters to the client is the HTTP status and the envelope's shape.
enum ContractRules {
    struct Refusal: Error {
        var code: Int
        var message: String
    }

    static func validate(_ body: JSONValue) -> Refusal? {
        guard case .object(let config)? = body["config"] else {
            return Refusal(code: 1001, message: "Bad Configuration: config must be an object")
        }
        let rules: [JSONValue]
        switch config["ingress"] {
        case .array(let list)?: rules = list
        case nil, .null?: rules = []
        default: return Refusal(code: 1001, message: "Bad Configuration: ingress must be an array")
        }
        for (index, rule) in rules.enumerated() {
            guard case .object = rule, let service = rule["service"]?.stringValue else {
                return Refusal(code: 1055, message: "Bad Configuration: Validation failed: rule #\(index + 1) has no service")
            }
            guard isService(service) else {
                return Refusal(
                    code: 1055, message: "Bad Configuration: Validation failed: rule #\(index + 1): invalid service \(service)")
            }
            if let hostname = rule["hostname"]?.stringValue, !isHostname(hostname) {
                return Refusal(code: 1055, message: "Bad Configuration: Validation failed: rule #\(index + 1): invalid hostname")
            }
        }
        if let last = rules.last, last["hostname"] != nil || last["path"] != nil {
            return Refusal(
                code: 1056,
                message:
                    "Bad Configuration: Validation failed: The last ingress rule must match all URLs (i.e. it should not have a hostname or path filter)"
            )
        }
        return nil
    }

    static func isHostname(_ hostname: String) -> Bool {
        let stars = hostname.filter { $0 == "*" }.count
        guard !hostname.contains(":") else { return false }
        return stars == 0 || (stars == 1 && hostname.hasPrefix("*."))
    }

    static func isService(_ service: String) -> Bool {
        if service == "hello_world" { return true }
        if service.hasPrefix("http_status:") { return Int(service.dropFirst(12)).map { (100...599).contains($0) } ?? false }
        return ["http://", "https://", "unix:", "tcp://", "ssh://", "rdp://"].contains { service.hasPrefix($0) }
    }
}
