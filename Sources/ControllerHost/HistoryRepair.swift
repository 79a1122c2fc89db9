import Postgres
import ReconcileRuntime
import ReconcileStore

/// After a reconnect landed on another server history (`ServerHistoryWatch.Change`), each key
/// whose row says it is converged is watched through its next reconcile: a reconcile that then
/// has to change the world found it ahead of the rows (acted on writes the new server never
/// got) and brought it back; that key gets a Normal `DatabaseWentBack` event. A key is watched
/// once per change, within `window` of it. No I/O: `BatchProcessor` asks and performs.
struct HistoryRepair: Sendable {
    /// How long after a change its keys are watched. Ten minutes: the periodic full resync's
    /// interval, and far more than the immediate full pass takes.
    static let window: Duration = .seconds(600)
    static let reason = "DatabaseWentBack"

    private var change = 0
    private var examined: Set<String> = []

    /// Of the claimed keys, those to watch for the change in force now (nil: none).
    mutating func watched(_ claimed: [ControllerStateStore.Claimed], change: ServerHistoryWatch.Change?) -> Set<String> {
        guard let change, ContinuousClock.now - change.at < Self.window else { return [] }
        if change.number != self.change {
            self.change = change.number
            examined = []
        }
        return Set(
            claimed.filter { $0.desiredGeneration == $0.observedGeneration && !examined.contains($0.key) }.map(\.key))
    }

    /// Keys whose watched reconcile was written: not watched again for this change.
    mutating func written(_ keys: Set<String>) {
        examined.formUnion(keys)
    }

    /// The event of a watched reconcile that changed the world, or nil when it changed nothing.
    static func event(actions: ActionLog.Counts, change: ServerHistoryWatch.Change?) -> ReconcileEvent? {
        guard actions.mutatingTotal > 0, let change else { return nil }
        let done = actions.mutating.keys.sorted().joined(separator: ", ")
        let moved =
            change.isAnotherCluster
            ? "another cluster (system \(change.to.systemIdentifier))"
            : "timeline \(change.to.timeline) (from \(change.from.timeline))"
        return .normal(
            reason,
            "the database went back in time: after a reconnect to \(moved) the world was ahead of the rows, "
                + "brought back to them (\(done))")
    }
}
