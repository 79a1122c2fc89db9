import Foundation

/// The API token, read once from the environment. It is only ever written into the
/// `Authorization` header: its description, debug description and mirror show nothing of it.
public struct CloudflareAPIToken: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    let value: String

    /// - Throws: when the variable is unset or empty, or holds what cannot go in a header line.
    public init(environment: [String: String], variable: String) throws {
        guard let value = environment[variable]?.trimmingCharacters(in: .whitespacesAndNewlines), !value.isEmpty else {
            throw CloudflareSettingsError(
                "\(variable): not set; the Cloudflare tunnel provider needs an API token with the account permission Cloudflare Tunnel: Edit"
            )
        }
        // Printable ASCII only: a line break would end the header, and Cloudflare's tokens are
        // URL-safe base64 anyway. The token itself is not quoted.
        guard value.unicodeScalars.allSatisfy({ (0x21...0x7E).contains($0.value) }) else {
            throw CloudflareSettingsError("\(variable): the token must be printable ASCII without spaces (it is not shown)")
        }
        self.value = value
    }

    /// `Authorization: Bearer <token>`.
    var authorization: String { "Bearer \(value)" }

    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }
    public var customMirror: Mirror { Mirror(self, children: [:]) }
}
