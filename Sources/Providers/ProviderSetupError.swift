/// A provider setting that cannot work, found when the command starts (a socket missing, an
/// engine unreachable, an image unknown, permission denied), rather than as a reconcile failure
/// on every key: the setting's option and why.
public struct ProviderSetupError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The option that names the setting, e.g. `--docker-socket`.
    public var setting: String
    public var reason: String

    public init(setting: String, reason: String) {
        self.setting = setting
        self.reason = reason
    }

    public var description: String { "\(setting): \(reason)" }
}
