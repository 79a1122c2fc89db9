import ControllerHost
import Foundation
import Postgres
import PostgresTestSupport
import ReconcileRuntime
import ReconcileStore
import ServiceLifecycle
import Testing

@Suite("sidecar: watch, resync, shutdown")
struct WatchTests {
    static func options() -> ControllerOptions {
        var options = ControllerOptions()
        options.dueResyncInterval = .seconds(3_600)
        options.fullResyncInterval = .seconds(3_600)
        // The watch and the due resync alone: no start-up full resync.
        options.fullResyncAtStart = false
        return options
    }

    @Test("an UPDATE reaches the controller through NOTIFY; shutdown releases every lease")
    func updateReachesController() async throws {
        let pool = try await TestDatabase.create()
        let keys = try await Fleet.create(pool, count: 3)
        let reconciler = RecordingReconciler()
        let host = ReconcilerHost(
            pool: pool, controllers: [.init(reconciler, options: Self.options())], logger: TestDatabase.logger)
        let running = Task { try await host.run() }
        // The start-up resync converges the three new keys.
        var seen = Set<String>()
        for await key in reconciler.reconciled {
            seen.insert(key)
            if seen.count == 3 { break }
        }
        #expect(seen == Set(keys))
        try await pool.query("UPDATE workspaces SET image = 'img:2' WHERE id = $1::uuid", [keys[1]])
        #expect(await reconciler.reconciled.first() == keys[1])
        running.cancel()
        try await running.value
        let held = try await pool.query("SELECT count(*) AS n FROM leases WHERE holder IS NOT NULL").rows[0].require(
            Int.self, "n")
        #expect(held == 0)
        let converged = try await pool.query(
            """
            SELECT count(*) AS n FROM instances WHERE desired_generation = observed_generation
            """
        ).rows[0].require(Int.self, "n")
        #expect(converged == 3)
    }

    @Test("notifications lost while the listener's session was killed are caught up by the resync")
    func lostNotificationsAreResynced() async throws {
        let pool = try await TestDatabase.create()
        let keys = try await Fleet.create(pool, count: 2)
        let reconciler = RecordingReconciler()
        var listenerOptions = PostgresListener.Options()
        listenerOptions.reconnectDelayMilliseconds = 1_000
        let host = ReconcilerHost(
            pool: pool, controllers: [.init(reconciler, options: Self.options())],
            listenerOptions: listenerOptions, logger: TestDatabase.logger)
        let running = Task { try await host.run() }
        var seen = Set<String>()
        for await key in reconciler.reconciled {
            seen.insert(key)
            if seen.count == 2 { break }
        }
        let listenerPID = try #require(await TestDatabase.backendPID(pool, applicationNameSuffix: " listener"))
        try await pool.query("SELECT pg_terminate_backend($1)", [Int(listenerPID)])
        // Written while nobody listens: this notification is lost.
        try await pool.query("UPDATE workspaces SET image = 'img:2' WHERE id = $1::uuid", [keys[0]])
        let gens = try await pool.query("SELECT desired_generation FROM instances WHERE key = $1::uuid", [keys[0]]).rows[0]
        #expect(try gens.decode(Int64.self, "desired_generation") == 2)
        // A key may legitimately run once more first (re-added while it was processing); what
        // matters is that the changed key is reconciled although its notification was lost.
        let caughtUp = Task {
            for await key in reconciler.reconciled where key == keys[0] { return true }
            return false
        }
        let deadline = Task {
            try await Task.sleep(for: .seconds(60))
            caughtUp.cancel()
        }
        #expect(await caughtUp.value, "the changed key was not reconciled within 60 s")
        deadline.cancel()
        running.cancel()
        try await running.value
    }

    @Test("a listener whose backend stops answering is replaced, and the resync catches up what it missed")
    func silentListenerIsReplacedAndResynced() async throws {
        let pool = try await TestDatabase.create()
        let keys = try await Fleet.create(pool, count: 2)
        let reconciler = RecordingReconciler()
        let host = ReconcilerHost(
            pool: pool, controllers: [.init(reconciler, options: Self.options())], logger: TestDatabase.logger)
        let running = Task { try await host.run() }
        var seen = Set<String>()
        for await key in reconciler.reconciled {
            seen.insert(key)
            if seen.count == 2 { break }
        }
        let listenerPID = try #require(await TestDatabase.backendPID(pool, applicationNameSuffix: " listener"))
        let stopped = try StoppedBackend(pid: listenerPID)
        defer { stopped.resume() }
        // Delivered to the stopped session only: lost unless the replacement resyncs.
        try await pool.query("UPDATE workspaces SET image = 'img:2' WHERE id = $1::uuid", [keys[0]])
        let caughtUp = Task {
            for await key in reconciler.reconciled where key == keys[0] { return true }
            return false
        }
        let deadline = Task {
            try await Task.sleep(for: .seconds(30))
            caughtUp.cancel()
        }
        #expect(await caughtUp.value, "the changed key was not reconciled within 30 s")
        deadline.cancel()
        #expect(host.listenerHealth.isConnected)
        running.cancel()
        try await running.value
    }

    @Test("at start every key is looked at once, so drift from while no reconciler ran is found")
    func startupFullResync() async throws {
        let pool = try await TestDatabase.create()
        let keys = try await Fleet.create(pool, count: 3)
        let first = RecordingReconciler()
        let converge = TickDriver(pool: pool, controllers: [.init(first)], logger: TestDatabase.logger)
        _ = try await converge.tickUntilConverged()
        var options = Self.options()
        options.fullResyncAtStart = true
        let reconciler = RecordingReconciler()
        let host = ReconcilerHost(pool: pool, controllers: [.init(reconciler, options: options)], logger: TestDatabase.logger)
        let running = Task { try await host.run() }
        var seen = Set<String>()
        for await key in reconciler.reconciled {
            seen.insert(key)
            if seen.count == 3 { break }
        }
        #expect(seen == Set(keys))
        running.cancel()
        try await running.value
    }

    @Test("a key whose lease a killed replica kept is reconciled when that lease expires, not at the next due resync")
    func keyOfAKilledReplicaIsTakenAtExpiry() async throws {
        let pool = try await TestDatabase.create()
        let keys = try await Fleet.create(pool, count: 2)
        try await pool.query(
            """
            UPDATE leases SET holder = 'killed:1:replica', token = token + 1, expires_at = now() + interval '2 seconds'
             WHERE controller = 'instances' AND key = $1::uuid
            """, [keys[0]])
        let reconciler = RecordingReconciler()
        let host = ReconcilerHost(
            pool: pool, controllers: [.init(reconciler, options: Self.options())], logger: TestDatabase.logger)
        let started = ContinuousClock.now
        let running = Task { try await host.run() }
        // The start-up resync finds both keys due; the held one is skipped, then taken once the
        // killed replica's lease has expired (the due resync would come in an hour).
        let taken = Task {
            for await key in reconciler.reconciled where key == keys[0] { return true }
            return false
        }
        let deadline = Task {
            try await Task.sleep(for: .seconds(10))
            taken.cancel()
        }
        #expect(await taken.value, "the key was not reconciled within 10 s")
        #expect(ContinuousClock.now - started >= .seconds(1.5))
        #expect(reconciler.keys.contains(keys[1]))
        deadline.cancel()
        running.cancel()
        try await running.value
    }
}
