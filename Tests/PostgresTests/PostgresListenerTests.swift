import Foundation
import Postgres
import PostgresTestSupport
import Testing

@Suite("LISTEN/NOTIFY")
struct PostgresListenerTests {
    @Test("a notification arrives; a killed session is reported and re-established")
    func notificationsAndReconnect() async throws {
        let pool = try await TestDatabase.create(poolSize: 1)
        var options = PostgresListener.Options()
        options.reconnectDelayMilliseconds = 20
        let listener = PostgresListener(configuration: pool.configuration, channels: ["things"], options: options,
                                        logger: TestDatabase.logger)
        var events = listener.events().makeAsyncIterator()
        #expect(await events.next() == .connected(reconnected: false))
        #expect(listener.isLive)

        try await pool.query("SELECT pg_notify('things', 'k1')")
        #expect(await events.next() == .notification(channel: "things", payload: "k1"))

        try await pool.query("""
            SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = current_database() AND query LIKE 'LISTEN%'
            """)
        guard case .disconnected = await events.next() else {
            Issue.record("expected a disconnected event")
            return
        }
        #expect(await events.next() == .connected(reconnected: true))
        try await pool.query("SELECT pg_notify('things', 'k2')")
        #expect(await events.next() == .notification(channel: "things", payload: "k2"))
        listener.stop()
        #expect(await events.next() == nil)
        #expect(!listener.isLive)
    }
}
