import ControllerHost
import EmbeddedPostgres
import Foundation
import Postgres
import PostgresTestSupport
import ReconcileRuntime
import ReconcileStore
import Synchronization
import Testing

/// PostgreSQL restarted under the sidecar with a reconcile in flight: nothing a replica meant to
/// do is dropped — its write-back failed, its own leases are claimed back at once, the resync
/// after the listener's reconnect is retried until it runs on a healthy connection.
@Suite("sidecar: PostgreSQL restarts")
struct DatabaseRestartTests {
    /// Takes a moment per key, so a restart lands while reconciles are in flight.
    final class SlowReconciler: Reconciler {
        let name = "instances"

        func reconcile(_ request: ReconcileRequest) async throws -> ReconcileResult {
            try await Task.sleep(for: .milliseconds(800))
            return ReconcileResult(.done)
        }
    }

    static func unconverged(_ pool: PostgresPool, _ keys: [String]) async throws -> Int {
        try await pool.query(
            """
            SELECT count(*) AS n FROM instances WHERE key = ANY($1::uuid[]) AND desired_generation <> observed_generation
            """, [keys]
        ).rows[0].require(Int.self, "n")
    }

    /// Seconds until `keys` are converged, polling every 100 ms for at most `limit` seconds.
    static func secondsToConverge(_ pool: PostgresPool, _ keys: [String], limit: Double = 60) async -> Double? {
        let started = Date()
        while Date().timeIntervalSince(started) < limit {
            if let count = try? await unconverged(pool, keys), count == 0 { return Date().timeIntervalSince(started) }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return nil
    }

    @Test(
        "restarted with a change in flight, and a change made right after: both converged within 5 s of the server being back",
        .timeLimit(.minutes(3)))
    func restartWithChangeInFlight() async throws {
        let directory = "/tmp/molecule-restart-\(getpid())-\(UUID().uuidString.prefix(8))"
        var options = EmbeddedPostgres.Options(baseDirectory: directory)
        options.port = 5437
        options.fsync = false
        let server = EmbeddedPostgres(options: options, logger: TestDatabase.logger)
        try await server.startInBackground()
        defer {
            server.stop()
            try? FileManager.default.removeItem(atPath: directory)
        }
        let admin = PostgresConnection(configuration: .init(conninfo: server.conninfo()))
        try await admin.query("CREATE DATABASE restart")
        await admin.close()
        let pool = PostgresPool(configuration: .init(conninfo: server.conninfo(database: "restart")), size: 4)
        try await Migrator(pool: pool, logger: TestDatabase.logger).migrate()
        let keys = try await Fleet.create(pool, count: 4)

        var hostOptions = ControllerOptions()
        hostOptions.fullResyncAtStart = false
        hostOptions.leaseDuration = .seconds(30)
        let host = ReconcilerHost(
            pool: pool, controllers: [.init(SlowReconciler(), options: hostOptions)], logger: TestDatabase.logger)
        let running = Task { try await host.run() }
        defer { running.cancel() }
        #expect(await Self.secondsToConverge(pool, keys) != nil)

        // A change, and the server stopped while its reconcile runs.
        try await pool.query("UPDATE workspaces SET image = 'img:2' WHERE id = ANY($1::uuid[])", [keys])
        try await Task.sleep(for: .milliseconds(300))
        server.stop()
        try await server.startInBackground()
        let back = Date()
        // A change made just after the restart, while the listener is still reconnecting.
        var wroteSecond = false
        while !wroteSecond, Date().timeIntervalSince(back) < 10 {
            do {
                try await pool.query("UPDATE workspaces SET image = 'img:3' WHERE id = $1::uuid", [keys[0]])
                wroteSecond = true
            } catch {
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        #expect(wroteSecond)
        let seconds = await Self.secondsToConverge(pool, keys, limit: 30)
        let sinceBack = Date().timeIntervalSince(back)
        print(
            "PostgreSQL restart with a change in flight: converged \(String(format: "%.2f", sinceBack)) s after the server was back"
        )
        #expect(seconds != nil, "not converged within 30 s of the restart")
        #expect(sinceBack <= 5, "converged \(sinceBack) s after the server was back")
        running.cancel()
        try? await running.value
        await pool.close()
    }
}
