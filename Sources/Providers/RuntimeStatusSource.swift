import Foundation

/// What the workspace runtime inside an instance reports: read from the heartbeat table the
/// platform writes, or probed over HTTP.
public protocol RuntimeStatusSource: Sendable {
    /// nil when the runtime has not reported (no heartbeat yet, or it stopped reporting).
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

    public init(ready: Bool, busySince: Date?, managementMCPPresent: Bool, plugins: [String: String],
                bundleHash: String?, reportedAt: Date) {
        self.ready = ready
        self.busySince = busySince
        self.managementMCPPresent = managementMCPPresent
        self.plugins = plugins
        self.bundleHash = bundleHash
        self.reportedAt = reportedAt
    }
}
