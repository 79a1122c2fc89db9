import Foundation
import Postgres
import PostgresTestSupport
import Testing

@Suite("LISTEN/NOTIFY")
struct PostgresListenerTests {
    static func listener(_ pool: PostgresPool) -> PostgresListener {
        var options = PostgresListener.Options()
        options.reconnectDelayMilliseconds = 20
        return PostgresListener(
            configuration: pool.configuration, channels: ["things"], options: options,
            logger: TestDatabase.logger)
    }

    @Test("a notification arrives; a terminated session is reported, re-established and says it reconnected")
    func notificationsAndReconnect() async throws {
        let pool = try await TestDatabase.create(poolSize: 1)
        let listener = Self.listener(pool)
        let log = ListenerEventLog.start(listener)
        defer { listener.stop() }
        #expect(await log.first(.connected(reconnected: false)) != nil)
        #expect(listener.health.isConnected)

        try await pool.query("SELECT pg_notify('things', 'k1')")
        #expect(await log.first(.notification(channel: "things", payload: "k1")) != nil)

        let mark = log.count
        let terminated = ContinuousClock.now
        let pid = try #require(await TestDatabase.backendPID(pool, applicationNameSuffix: " listener"))
        try await pool.query("SELECT pg_terminate_backend($1)", [Int(pid)])
        let lost = await log.first(from: mark) { if case .disconnected = $0 { true } else { false } }
        #expect(lost != nil)
        let back = try #require(await log.first(.connected(reconnected: true), from: mark))
        #expect(listener.health.isConnected)
        try await pool.query("SELECT pg_notify('things', 'k2')")
        #expect(await log.first(.notification(channel: "things", payload: "k2"), from: back.index) != nil)
        TestDatabase.logger.info(
            "measured: terminated listener", metadata: ["reconnected_after": "\(back.entry.at - terminated)"])

        listener.stop()
        try await waitUntil { !listener.health.isConnected }
    }

    @Test("a listener whose backend stops answering is replaced within seconds, and hears what follows")
    func silentSessionIsReplaced() async throws {
        let pool = try await TestDatabase.create(poolSize: 1)
        let listener = Self.listener(pool)
        let log = ListenerEventLog.start(listener)
        defer { listener.stop() }
        #expect(await log.first(.connected(reconnected: false)) != nil)
        let pid = try #require(await TestDatabase.backendPID(pool, applicationNameSuffix: " listener"))

        let mark = log.count
        let stoppedAt = ContinuousClock.now
        let stopped = try StoppedBackend(pid: pid)
        defer { stopped.resume() }
        let lost = try #require(await log.first(from: mark) { if case .disconnected = $0 { true } else { false } })
        let back = try #require(await log.first(.connected(reconnected: true), from: mark))
        let detected = lost.entry.at - stoppedAt
        let replaced = back.entry.at - stoppedAt
        // Liveness: at most 2 s of silence, then 2 s for SELECT 1 (measured 3.4-4.5 s on a busy
        // 2-core machine); the margin is for the scheduling of a loaded test run.
        #expect(detected < .seconds(6), "detected after \(detected)")
        #expect(replaced < .seconds(7), "replaced after \(replaced)")
        #expect(listener.health.isConnected)

        try await pool.query("SELECT pg_notify('things', 'after')")
        #expect(await log.first(.notification(channel: "things", payload: "after"), from: back.index) != nil)
        TestDatabase.logger.info(
            "measured: stopped listener",
            metadata: [
                "detected_after": "\(detected)", "replaced_after": "\(replaced)",
            ])
    }
}

/// Polls `condition` until it holds, failing the test after `within`.
func waitUntil(within: Duration = .seconds(10), _ condition: () -> Bool) async throws {
    let deadline = ContinuousClock.now + within
    while !condition() {
        guard ContinuousClock.now < deadline else {
            Issue.record("condition not met within \(within)")
            return
        }
        try await Task.sleep(for: .milliseconds(10))
    }
}
