import Foundation

/// One set of AWS credentials. Its description names the access key's last four characters
/// and the source, never the secret key or the session token: printing it, logging it or
/// putting it in an error leaks nothing.
public struct AWSCredentials: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    public var accessKeyID: String
    public var secretAccessKey: String
    public var sessionToken: String?
    /// When temporary credentials (IMDS, a session) stop working; nil for long-lived keys.
    public var expiration: Date?
    /// Where they came from: `environment`, `shared credentials file (profile p)`, `instance metadata`.
    public var source: String

    public init(
        accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil, expiration: Date? = nil,
        source: String
    ) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
        self.expiration = expiration
        self.source = source
    }

    public var description: String { "AWS credentials ...\(accessKeyID.suffix(4)) from \(source)" }
    public var debugDescription: String { description }
}
