/// The closed sets of the `workspaces` table's spec and status columns, one enum each; the
/// schema's CHECK constraints hold the same sets.
public enum WorkspaceKind: String, Sendable, Codable {
    case agent
    /// The platform's own workspaces: never restarted automatically, may have privileged plugins.
    case platform
}

public enum DesiredState: String, Sendable, Codable {
    case running, stopped, deleted
}

public enum RestartPolicy: String, Sendable, Codable {
    /// The reconciler may restart the instance to apply a change, and recreate it when it fails.
    case auto
    /// It only sets `restart_pending` and surfaces failures.
    case manual
}

public enum Phase: String, Sendable, Codable, CaseIterable {
    case pending, provisioning, running, degraded, failed, stopping, stopped, deleting, deleted
}

/// A condition of `workspaces.conditions` (Kubernetes-style), as a controller's status value
/// carries it. `lastTransitionTime` and the aggregate `Ready` are kept by the database
/// (`molecule_set_condition`), so they agree with the stored conditions at every write.
public struct WorkspaceCondition: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        case instanceReady = "InstanceReady"
        case bundleStaged = "BundleStaged"
        case pluginsInstalled = "PluginsInstalled"
    }

    public var type: Kind
    /// "True" or "False".
    public var status: String
    /// CamelCase, from a bounded set.
    public var reason: String
    public var message: String

    public init(_ type: Kind, _ status: Bool, reason: String, message: String) {
        self.type = type
        self.status = status ? "True" : "False"
        self.reason = reason
        self.message = message
    }

    public var isTrue: Bool { status == "True" }
}
