import Synchronization

/// Whether a reconcile may still act on its key: revoked by the batch processor when the
/// key's lease was taken over or could not be renewed in time. Revoking runs the registered
/// handler (the processor cancels the reconcile's task), so a reconcile that awaits a provider
/// call sees a cancellation; one between steps can ask `isRevoked`.
public final class LeaseTrust: Sendable {
    private struct State {
        var revoked = false
        var onRevoke: (@Sendable () -> Void)?
    }

    private let state = Mutex(State())

    public init() {}

    public var isRevoked: Bool { state.withLock { $0.revoked } }

    /// Runs `handler` when the trust is revoked (at once if it already is).
    public func onRevoke(_ handler: @escaping @Sendable () -> Void) {
        let runNow = state.withLock { state -> Bool in
            if state.revoked { return true }
            state.onRevoke = handler
            return false
        }
        if runNow { handler() }
    }

    public func revoke() {
        let handler = state.withLock { state -> (@Sendable () -> Void)? in
            guard !state.revoked else { return nil }
            state.revoked = true
            defer { state.onRevoke = nil }
            return state.onRevoke
        }
        handler?()
    }
}
