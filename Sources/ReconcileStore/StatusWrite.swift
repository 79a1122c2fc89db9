/// What one finished reconcile writes back, in the same statement that releases its lease.
public struct StatusWrite: Sendable, Equatable {
    public enum Retry: Sendable, Equatable {
        /// Converged (or requeued in memory): no persisted retry time.
        case none
        /// Try again this many seconds after the database's now.
        case after(seconds: Double)
        /// Terminal: not retried until the desired generation changes.
        case never
    }

    public struct Event: Sendable, Equatable {
        public var type: EventType
        public var reason: String
        public var message: String

        public init(type: EventType, reason: String, message: String) {
            self.type = type
            self.reason = reason
            self.message = message
        }
    }

    public var key: String
    public var token: Int64
    /// The generation now observed; nil leaves it unchanged (a failure).
    public var observedGeneration: Int64?
    /// nil clears `last_error`; a message sets it and counts an attempt.
    public var error: String?
    public var retry: Retry
    public var event: Event?

    public init(key: String, token: Int64, observedGeneration: Int64?, error: String?, retry: Retry, event: Event?) {
        self.key = key
        self.token = token
        self.observedGeneration = observedGeneration
        self.error = error
        self.retry = retry
        self.event = event
    }
}

public enum EventType: String, Sendable, Codable {
    case normal = "Normal"
    case warning = "Warning"
}
