import Foundation

/// Everything one reconcile observed and decided, as a value: the host writes all of it in the
/// batch's one fenced write-back, or none of it when the lease was lost.
public struct ReconcileResult: Sendable {
    public var outcome: ReconcileOutcome
    /// The controller's status columns (and the workspace columns it owns), rewritten whole from
    /// this value; nil leaves them as they are. Its encoding is read by the controller's own
    /// status statement (see `StatusColumns` in ReconcileStore).
    public var status: (any StatusPatch)?
    /// Events beside the host's own failure and recovery events.
    public var events: [ReconcileEvent]
    /// Keys of other controllers whose inputs this pass changed in the world (a plugin arrived,
    /// so the instances controller judges health again): their desired generation is bumped.
    public var wakes: [Wake]

    public init(
        _ outcome: ReconcileOutcome, status: (any StatusPatch)? = nil, events: [ReconcileEvent] = [],
        wakes: [Wake] = []
    ) {
        self.outcome = outcome
        self.status = status
        self.events = events
        self.wakes = wakes
    }
}

/// A controller's status as a value; encoded to JSON for its status statement.
public protocol StatusPatch: Encodable, Sendable {}

public enum EventType: String, Sendable, Codable {
    case normal = "Normal"
    case warning = "Warning"
}

/// A Kubernetes-style event about the reconciled key.
public struct ReconcileEvent: Sendable, Equatable, Hashable {
    public var type: EventType
    /// CamelCase, from a bounded set.
    public var reason: String
    /// For people; never a secret value.
    public var message: String

    public init(_ type: EventType, _ reason: String, _ message: String) {
        self.type = type
        self.reason = reason
        self.message = message
    }

    public static func normal(_ reason: String, _ message: String) -> ReconcileEvent { .init(.normal, reason, message) }
    public static func warning(_ reason: String, _ message: String) -> ReconcileEvent { .init(.warning, reason, message) }
}

/// Another controller's key to look at again.
public struct Wake: Sendable, Equatable, Hashable {
    public var controller: String
    public var key: String

    public init(controller: String, key: String) {
        self.controller = controller
        self.key = key
    }
}
