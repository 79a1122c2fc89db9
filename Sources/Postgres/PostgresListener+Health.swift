extension PostgresListener {
    /// Whether a session is listening, since when, and why not.
    public struct Health: Sendable, Equatable {
        /// A session is listening now.
        public var isConnected: Bool
        /// When `isConnected` last changed (or the listener was created).
        public var since: ContinuousClock.Instant
        /// Why the last session was lost or could not be opened; nil while connected.
        public var lastError: String?
    }

    /// The listener's health now (cheap: a lock and a copy; for readiness checks).
    public var health: Health { healthState.withLock { $0 } }

    func recordConnected() {
        healthState.withLock { $0 = Health(isConnected: true, since: .now, lastError: nil) }
    }

    func recordDisconnected(_ reason: String) {
        healthState.withLock { health in
            // `since` stays the moment the session was lost, through failed reconnections.
            let since = health.isConnected ? .now : health.since
            health = Health(isConnected: false, since: since, lastError: reason)
        }
    }
}
