import ReconcileRuntime
import Testing

@testable import ControllerHost
@testable import Postgres
@testable import ReconcileStore

@Suite("history repair")
struct HistoryRepairTests {
    static func claimed(_ key: String, desired: Int64, observed: Int64) -> ControllerStateStore.Claimed {
        .init(
            key: key, token: 1, desiredGeneration: desired, observedGeneration: observed, attempts: 0, lastError: nil,
            tookOver: false)
    }

    static func change(_ number: Int, at: ContinuousClock.Instant = .now) -> ServerHistoryWatch.Change {
        .init(
            from: .init(systemIdentifier: "7", timeline: number), to: .init(systemIdentifier: "7", timeline: number + 1),
            number: number, at: at)
    }

    @Test("after a change, converged keys are watched once; keys with a pending change are ordinary work")
    func convergedKeysAreWatchedOnce() {
        var repair = HistoryRepair()
        let keys = [Self.claimed("a", desired: 3, observed: 3), Self.claimed("b", desired: 4, observed: 3)]
        #expect(repair.watched(keys, change: nil) == [])
        let change = Self.change(1)
        #expect(repair.watched(keys, change: change) == ["a"])
        repair.written(["a"])
        #expect(repair.watched(keys, change: change) == [])
        // A later change watches it again.
        #expect(repair.watched(keys, change: Self.change(2)) == ["a"])
        // A change older than the window watches nothing.
        var late = HistoryRepair()
        #expect(late.watched(keys, change: Self.change(3, at: .now - HistoryRepair.window - .seconds(1))) == [])
    }

    @Test("the event is Normal, says what was done, and only when the world was changed")
    func eventOnlyWhenTheWorldChanged() throws {
        var counts = ActionLog.Counts()
        counts.readOnly["secret_store.describe"] = 1
        #expect(HistoryRepair.event(actions: counts, change: Self.change(1)) == nil)
        counts.mutating["secret_store.put"] = 1
        let event = try #require(HistoryRepair.event(actions: counts, change: Self.change(1)))
        #expect(event.type == .normal && event.reason == "DatabaseWentBack")
        #expect(event.message.contains("timeline 2") && event.message.contains("secret_store.put"))
    }
}
