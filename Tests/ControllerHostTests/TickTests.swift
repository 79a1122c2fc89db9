import ControllerHost
import Foundation
import PostgresTestSupport
import ReconcileRuntime
import ReconcileStore
import Testing

@Suite("tick mode")
struct TickTests {
    @Test("a no-op controller over many keys converges, and the idempotency check passes")
    func noOpConvergesIdempotently() async throws {
        let pool = try await TestDatabase.create()
        let keys = try await Fleet.create(pool, count: 1_000)
        let reconciler = RecordingReconciler()
        var options = ControllerOptions()
        options.batchSize = 50
        let driver = TickDriver(pool: pool, controllers: [.init(reconciler, options: options)], logger: TestDatabase.logger)
        let report = try await driver.checkIdempotent()
        #expect(report.converge.controllers["instances"]?.succeeded == 1_000)
        #expect(report.converge.stillDue == 0)
        #expect(report.check.controllers["instances"]?.reconciled == 1_000)
        #expect(report.rowWrites.isEmpty, "\(report.rowWrites)")
        #expect(report.passed)
        #expect(Set(reconciler.keys) == Set(keys))
        let again = try await driver.tick()
        #expect(again.examined == 0)
    }

    @Test("a controller that writes a row on every pass is caught, naming the table")
    func writerIsCaught() async throws {
        let pool = try await TestDatabase.create()
        _ = try await Fleet.create(pool, count: 20)
        let driver = TickDriver(
            pool: pool, controllers: [.init(RecordingReconciler(behaviour: .writeEveryPass(pool)))],
            logger: TestDatabase.logger)
        let report = try await driver.checkIdempotent()
        #expect(!report.passed)
        #expect(report.rowWrites["workspaces"] == 20)
    }

    @Test("a controller that calls a mutating provider action on every pass is caught")
    func mutatorIsCaught() async throws {
        let pool = try await TestDatabase.create()
        _ = try await Fleet.create(pool, count: 5)
        let driver = TickDriver(
            pool: pool, controllers: [.init(RecordingReconciler(behaviour: .mutateEveryPass))],
            logger: TestDatabase.logger)
        let report = try await driver.checkIdempotent()
        #expect(!report.passed)
        #expect(report.mutatingActions == ["instances.create": 5])
        #expect(report.rowWrites.isEmpty)
    }

    @Test("the check pass runs at the instant convergence ended: a watch coming due meanwhile is not a write")
    func watchComingDueDuringTheCheckIsNotAWrite() async throws {
        let pool = try await TestDatabase.create()
        _ = try await Fleet.create(pool, count: 2)
        var options = ControllerOptions()
        options.batchSize = 1
        // Each reconcile takes 0.6 s and asks for a look 1 s later (1.1 s at most, with the
        // write-back's jitter): the first key's look comes due while the check pass runs.
        let reconciler = RecordingReconciler(behaviour: .watch(every: .seconds(1), taking: .milliseconds(600)))
        let driver = TickDriver(pool: pool, controllers: [.init(reconciler, options: options)], logger: TestDatabase.logger)
        let report = try await driver.checkIdempotent()
        #expect(report.check.controllers["instances"]?.reconciled == 2)
        #expect(report.rowWrites.isEmpty, "\(report.rowWrites)")
        #expect(report.passed)
    }

    @Test("a failure writes last_error, a Warning event and a retry time in the same pass; success clears them")
    func failureSurfacingAndRecovery() async throws {
        let pool = try await TestDatabase.create()
        let key = try await Fleet.create(pool, count: 1)[0]
        let t0 = Date(timeIntervalSince1970: 1_800_000_000)
        let failing = TickDriver(
            pool: pool, controllers: [.init(RecordingReconciler(behaviour: .fail(reason: "ProvisionFailed")))],
            logger: TestDatabase.logger)
        let first = try await failing.tick(now: t0)
        #expect(first.failures.map(\.reason) == ["ProvisionFailed"])
        let row = try await pool.query(
            "SELECT last_error, last_error_at, attempts, next_attempt_at FROM instances WHERE key = $1::uuid", [key]
        ).rows[0]
        #expect(try row.decode(String.self, "last_error") == "provider said no (attempt 1)")
        #expect(try row.decode(Date.self, "last_error_at") == t0)
        #expect(try row.decode(Int.self, "attempts") == 1)
        #expect(try #require(try row.decode(Date.self, "next_attempt_at")) > t0)
        let events = try await RecordedEvents.of(key, in: pool)
        #expect(events.map(\.type) == [.warning])
        #expect(events.first?.reason == "ProvisionFailed")

        let healthy = TickDriver(pool: pool, controllers: [.init(RecordingReconciler())], logger: TestDatabase.logger)
        let recovered = try await healthy.tick(now: t0 + 3_600)
        #expect(recovered.controllers["instances"]?.succeeded == 1)
        let after = try await pool.query(
            "SELECT last_error, attempts, next_attempt_at, observed_generation FROM instances WHERE key = $1::uuid", [key]
        ).rows[0]
        #expect(try after.decode(String.self, "last_error") == nil)
        #expect(try after.decode(Int.self, "attempts") == 0)
        #expect(try after.decode(Date.self, "next_attempt_at") == nil)
        #expect(try after.decode(Int64.self, "observed_generation") == 1)
        #expect(try await RecordedEvents.of(key, in: pool).first?.reason == "Reconciled")
    }

    @Test("persisted backoff survives a restart: a new runtime neither hot-loops nor forgets the cooldown")
    func persistedBackoffSurvivesRestart() async throws {
        let pool = try await TestDatabase.create()
        _ = try await Fleet.create(pool, count: 1)
        var options = ControllerOptions()
        options.backoff = ExponentialBackoff(base: .seconds(60), cap: .seconds(3_600), jitter: 0)
        let t0 = Date(timeIntervalSince1970: 1_800_000_000)
        var attempts: [Int] = []
        // Five "restarts" of the reconciler within two minutes: each is a fresh runtime.
        for (index, offset) in [0.0, 10, 30, 61, 90].enumerated() {
            let reconciler = RecordingReconciler(behaviour: .fail(reason: "DeliveryFailed"))
            let driver = TickDriver(
                pool: pool, controllers: [.init(reconciler, options: options)],
                holder: "replica-\(index)", logger: TestDatabase.logger)
            _ = try await driver.tick(now: t0 + offset)
            attempts.append(reconciler.keys.count)
        }
        // Attempt at 0 (then wait 60 s), nothing at 10 and 30, attempt at 61 (then wait 120 s), nothing at 90.
        #expect(attempts == [1, 0, 0, 1, 0])
    }

    @Test("a terminal failure is not retried until the desired generation changes")
    func terminalFailure() async throws {
        let pool = try await TestDatabase.create()
        let key = try await Fleet.create(pool, count: 1)[0]
        struct Terminal: Reconciler {
            let name = "instances"
            func reconcile(_ request: ReconcileRequest) async throws -> ReconcileResult {
                ReconcileResult(.terminal(ReconcileFailure(reason: "InvalidSpec", message: "image reference is malformed")))
            }
        }
        let driver = TickDriver(pool: pool, controllers: [.init(Terminal())], logger: TestDatabase.logger)
        let first = try await driver.tick()
        #expect(first.failures.first?.terminal == true)
        #expect(try await driver.tick(now: Date() + 86_400 * 365).examined == 0)
        try await pool.query("UPDATE workspaces SET image = 'registry/agent:2' WHERE id = $1::uuid", [key])
        #expect(try await driver.tick().examined == 1)
    }
}
