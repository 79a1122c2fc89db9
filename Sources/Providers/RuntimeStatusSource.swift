import Foundation

/// What the workspace runtime inside an instance reports: read from the heartbeat table the
/// platform writes, or probed over HTTP.
public protocol RuntimeStatusSource: Sendable {
    /// - Returns: the status the runtime reported; nil when it has nothing to report yet: the
    ///   instance has no address yet, or its runtime answers that it has no status yet (over
    ///   HTTP: 404 or 503 while it starts).
    /// - Throws: a `ProviderError`: `unreachable` when nothing answered (connection refused,
    ///   timeout), naming the instance's address; `invalid` when the runtime answered with
    ///   something that is not a status (terminal: it does not speak the contract); `throttled`
    ///   or `transient` when it asked to be left alone or failed for now.
    func status(of instance: InstanceRecord) async throws -> RuntimeStatus?
}

public struct RuntimeStatus: Sendable, Equatable {
    public var ready: Bool
    /// Set while the runtime is busy in a turn: restarts wait for it to end.
    public var busySince: Date?
    public var managementMCPPresent: Bool
    /// Installed plugins: name -> ref.
    public var plugins: [String: String]
    /// The hash of the bundle the runtime loaded.
    public var bundleHash: String?
    public var reportedAt: Date

    public init(
        ready: Bool, busySince: Date?, managementMCPPresent: Bool, plugins: [String: String],
        bundleHash: String?, reportedAt: Date
    ) {
        self.ready = ready
        self.busySince = busySince
        self.managementMCPPresent = managementMCPPresent
        self.plugins = plugins
        self.bundleHash = bundleHash
        self.reportedAt = reportedAt
    }
}
