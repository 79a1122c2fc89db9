import Foundation
import Providers

/// Cloudflare's v4 wire format for a tunnel's remotely-managed configuration: the envelope
/// every v4 call answers with, the `result` of GET and PUT `.../configurations`, and the PUT
/// body. Pure: bytes in, values out.
enum CloudflareDocument {
    /// `{"success", "errors": [{"code", "message"}], "messages", "result"}`.
    struct Envelope: Decodable {
        var success: Bool
        var errors: [APIError]?
        var result: JSONValue?
    }

    /// One entry of `errors`; lenient, since an error answer is read to be reported.
    struct APIError: Decodable, Equatable {
        var code: Int?
        var message: String?
    }

    /// What a body could not be read as.
    struct Malformed: Error {
        var reason: String
    }

    static func envelope(_ body: Data) -> Envelope? {
        try? JSONDecoder().decode(Envelope.self, from: body)
    }

    /// The configuration in a `result`: `{"tunnel_id", "version", "config": {...}|null, ...}`.
    /// A missing or null `config`, or `config.ingress`, is an empty ingress.
    static func configuration(from result: JSONValue?) throws -> TunnelConfiguration {
        guard case .object(let fields)? = result else { throw Malformed(reason: "the result is not an object") }
        var version: Int?
        switch fields["version"] {
        case .integer(let value)?: version = Int(exactly: value)
        case nil, .null?: version = nil
        default: throw Malformed(reason: "result.version is not an integer")
        }
        let config: [String: JSONValue]
        switch fields["config"] {
        case .object(let value)?: config = value
        case nil, .null?: config = [:]
        default: throw Malformed(reason: "result.config is not an object")
        }
        let entries: [JSONValue]
        switch config["ingress"] {
        case .array(let value)?: entries = value
        case nil, .null?: entries = []
        default: throw Malformed(reason: "result.config.ingress is not an array")
        }
        var rules: [IngressRule] = []
        for (index, entry) in entries.enumerated() {
            rules.append(try rule(entry, index: index))
        }
        return TunnelConfiguration(ingress: rules, version: version, otherFields: config.filter { $0.key != "ingress" })
    }

    /// A rule of the API's schema: `hostname`, `path`, `service`, `originRequest`.
    private static func rule(_ entry: JSONValue, index: Int) throws -> IngressRule {
        guard let service = entry["service"]?.stringValue else {
            throw Malformed(reason: "result.config.ingress[\(index)] has no service")
        }
        func optionalString(_ key: String) throws -> String? {
            switch entry[key] {
            case nil, .null?: return nil
            case .string(let value)?: return value
            default: throw Malformed(reason: "result.config.ingress[\(index)].\(key) is not a string")
            }
        }
        let originRequest = entry["originRequest"].flatMap { $0 == .null ? nil : $0 }
        return IngressRule(
            hostname: try optionalString("hostname"), path: try optionalString("path"), service: service,
            originRequest: originRequest)
    }

    /// The PUT body: `{"config": {<the other fields as read>, "ingress": [...]}}`, keys sorted.
    static func body(_ configuration: TunnelConfiguration) throws -> Data {
        var config = configuration.otherFields
        config["ingress"] = .array(configuration.ingress.map(json))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(JSONValue.object(["config": .object(config)]))
    }

    static func json(_ rule: IngressRule) -> JSONValue {
        var fields: [String: JSONValue] = ["service": .string(rule.service)]
        if let hostname = rule.hostname { fields["hostname"] = .string(hostname) }
        if let path = rule.path { fields["path"] = .string(path) }
        if let originRequest = rule.originRequest { fields["originRequest"] = originRequest }
        return .object(fields)
    }
}
