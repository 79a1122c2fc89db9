import Foundation

/// The body of a workspace runtime's `GET /status`: the wire contract between
/// `molecule-workspace-runtime` (which serves it) and `HTTPRuntimeProbe` (which reads it).
/// Dates are ISO-8601.
public struct RuntimeStatusDocument: Codable, Sendable, Equatable {
    public var ready: Bool
    /// Set while a turn is in progress.
    public var busySince: Date?
    /// Installed plugins: name -> ref.
    public var plugins: [String: String]
    public var bundleHash: String?
    public var managementMCPPresent: Bool

    public init(ready: Bool, busySince: Date?, plugins: [String: String], bundleHash: String?, managementMCPPresent: Bool) {
        self.ready = ready
        self.busySince = busySince
        self.plugins = plugins
        self.bundleHash = bundleHash
        self.managementMCPPresent = managementMCPPresent
    }

    enum CodingKeys: String, CodingKey {
        case ready, plugins
        case busySince = "busy_since"
        case bundleHash = "bundle_hash"
        case managementMCPPresent = "management_mcp_present"
    }
}
