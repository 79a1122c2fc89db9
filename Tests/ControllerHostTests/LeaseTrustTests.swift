import ControllerHost
import Foundation
import Postgres
import PostgresTestSupport
import ReconcileRuntime
import ReconcileStore
import Synchronization
import Testing

/// A reconcile stops acting once its lease is no longer its own: the renewal finds the lease
/// taken over, revokes the trust, and the reconcile's task is cancelled — its provider calls
/// stop, and its result is dropped by the fence.
@Suite("lease trust")
struct LeaseTrustTests {
    /// Waits for its provider call (a long sleep) unless cancelled; records what happened.
    final class SlowReconciler: Reconciler {
        let name = "instances"
        let started = Mutex(false)
        let cancelled = Mutex(false)
        let finished = Mutex(false)

        func reconcile(_ request: ReconcileRequest) async throws -> ReconcileResult {
            started.withLock { $0 = true }
            do {
                try await Task.sleep(for: .seconds(30))
            } catch {
                cancelled.withLock { $0 = request.lease.isRevoked }
                throw error
            }
            finished.withLock { $0 = true }
            request.actions.record("instances.create", mutating: true)
            return ReconcileResult(.done)
        }
    }

    @Test(
        "a lease taken over mid-reconcile cancels the reconcile within a renewal interval, and nothing of it is written",
        .timeLimit(.minutes(1)))
    func takeoverCancels() async throws {
        let pool = try await TestDatabase.create()
        let key = try await Fleet.create(pool, count: 1)[0]
        let reconciler = SlowReconciler()
        var options = ControllerOptions()
        options.leaseDuration = .seconds(1.5)
        let driver = TickDriver(
            pool: pool, controllers: [.init(reconciler, options: options)], holder: "slow",
            logger: TestDatabase.logger)
        let tick = Task { try await driver.tick() }
        while !reconciler.started.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(10)) }
        // Another replica takes the key over (as after an expiry): the token moves on.
        try await pool.query("UPDATE leases SET holder = 'thief', token = token + 1 WHERE key = $1::uuid", [key])
        let stolen = ContinuousClock.now
        let summary = try await tick.value
        let elapsed = ContinuousClock.now - stolen
        print("lease taken over: the reconcile stopped \(elapsed) later (renewal interval 0.5 s)")
        // Far less than the provider call's 30 s: it was cancelled, not waited for.
        #expect(elapsed < .seconds(15), "the reconcile ran on after its lease was lost: \(elapsed)")
        #expect(reconciler.cancelled.withLock { $0 })
        #expect(!reconciler.finished.withLock { $0 })
        #expect(summary.actions.mutating.isEmpty)
        let row = try await pool.query(
            "SELECT observed_generation, attempts, last_error FROM instances WHERE key = $1::uuid", [key]
        ).rows[0]
        #expect(try row.require(Int64.self, "observed_generation") == 0)
        #expect(try row.require(Int.self, "attempts") == 0, "the dropped result was written")
        #expect(try await pool.query("SELECT 1 FROM events WHERE key = $1::uuid", [key]).rows.isEmpty)
    }
}
