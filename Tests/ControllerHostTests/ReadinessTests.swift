import CurlHTTP
import Foundation
import HealthServer
import Logging
import Postgres
import PostgresTestSupport
import Prometheus
import ServiceLifecycle
import Testing

@Suite("readiness")
struct ReadinessTests {
    @Test("readyz answers within 1 s whatever the database does, and is not ready while the listener cannot listen")
    func notReadyWhileListenerIsSilent() async throws {
        let pool = try await TestDatabase.create(poolSize: 1)
        let listener = PostgresListener(configuration: pool.configuration, channels: ["things"], logger: TestDatabase.logger)
        _ = ListenerEventLog.start(listener)
        defer { listener.stop() }
        let monitor = ReadinessMonitor(
            configuration: pool.configuration, listenerHealth: { listener.health },
            logger: TestDatabase.logger)
        let port = Int.random(in: 20_000..<40_000)
        let server = HealthServer.make(
            host: "127.0.0.1", port: port, registry: PrometheusCollectorRegistry(),
            readiness: monitor.notReadyReason, logger: TestDatabase.logger)
        let group = ServiceGroup(configuration: .init(services: [server, monitor], logger: TestDatabase.logger))
        let running = Task { try await group.run() }
        let readyz = Readyz(url: "http://127.0.0.1:\(port)/readyz")
        #expect(try await readyz.poll(until: 200) != nil, "never ready")
        // From here on the server runs (while it starts, on a loaded machine, an answer may take
        // longer): every answer counts against the 1 s bound.
        readyz.bounded = true

        // A backend that stops answering, while no new session may open (a replacement would
        // otherwise make the sidecar ready again within milliseconds).
        let database = try await pool.query("SELECT current_database() AS name").rows[0].require(String.self, "name")
        let admin = try await TestDatabase.admin()
        func stop(_ suffix: String, expecting reason: String) async throws -> Duration {
            let pid = try #require(await TestDatabase.backendPID(pool, applicationNameSuffix: suffix))
            try await admin.query("ALTER DATABASE \(database) ALLOW_CONNECTIONS false")
            let stoppedAt = ContinuousClock.now
            let stopped = try StoppedBackend(pid: pid)
            defer { stopped.resume() }
            let notReady = try #require(try await readyz.poll(until: 503), "still ready while\(suffix) is silent")
            let detected = ContinuousClock.now - stoppedAt
            #expect(notReady.text.contains(reason), "\(notReady.text)")
            try await admin.query("ALTER DATABASE \(database) ALLOW_CONNECTIONS true")
            #expect(try await readyz.poll(until: 200) != nil, "not ready again after the database accepted sessions")
            return detected
        }
        let listenerDetected = try await stop(" listener", expecting: "the LISTEN session is not connected")
        let checkDetected = try await stop(" readiness", expecting: "database unreachable")
        // Bounds with room for a loaded 2-core machine running the whole suite (the chaos test's
        // replicas included): what they rule out is waiting on the database (a statement deadline
        // is 32 s). The design's figures (≤ 1 s to answer) are printed, measured when quiet.
        print(
            "readyz: not ready \(listenerDetected) after the listener stopped, \(checkDetected) after the check's session stopped; slowest answer \(readyz.slowest)"
        )
        #expect(listenerDetected < .seconds(10), "not ready only after \(listenerDetected)")
        #expect(checkDetected < .seconds(8), "not ready only after \(checkDetected)")
        #expect(readyz.slowest < .seconds(5), "readyz took \(readyz.slowest): did it wait for the database?")
        TestDatabase.logger.info(
            "measured: readyz",
            metadata: [
                "listener_stopped_not_ready_after": "\(listenerDetected)", "check_stopped_not_ready_after": "\(checkDetected)",
                "slowest_answer": "\(readyz.slowest)",
            ])

        await admin.close()
        await group.triggerGracefulShutdown()
        try await running.value
    }
}

/// Polls `/readyz` with a 1 s client timeout; once `bounded`, remembers the slowest answer and
/// fails the test when one does not come within 1 s.
final class Readyz: @unchecked Sendable {
    // @unchecked Sendable: used from one test task at a time.
    let url: String
    var bounded = false
    private(set) var slowest: Duration = .zero
    private let client = CurlHTTPClient()

    init(url: String) {
        self.url = url
    }

    /// The first answer with `status`, polled every 100 ms for up to `within`. A refused
    /// connection (the server starting) is retried.
    func poll(until status: Int, within: Duration = .seconds(15)) async throws -> CurlHTTPClient.Response? {
        let deadline = ContinuousClock.now + within
        while ContinuousClock.now < deadline {
            let started = ContinuousClock.now
            do {
                let response = try await client.send(.init(url: url, timeoutMilliseconds: 1_000))
                if bounded { slowest = max(slowest, ContinuousClock.now - started) }
                if response.status == status { return response }
            } catch let failure as CurlHTTPClient.Failure where failure.isTimeout {
                if bounded { Issue.record("readyz did not answer within 1 s") }
            } catch {
                // Refused: the server is not listening yet.
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        return nil
    }
}
