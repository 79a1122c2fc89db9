import Foundation
import Postgres
import PostgresTestSupport
import Testing

@Suite("server history")
struct ServerHistoryTests {
    @Test("every new session of a pool and its listener records the server's system identifier and timeline")
    func sessionsRecordTheHistory() async throws {
        let pool = try await TestDatabase.create(poolSize: 1)
        #expect(pool.history.current == nil)
        try await pool.query("SELECT 1")
        let seen = try #require(pool.history.current)
        let expected = try await pool.query("SELECT system_identifier::text AS id FROM pg_control_system()").rows[0]
        #expect(seen.systemIdentifier == (try expected.require(String.self, "id")))
        #expect(seen.timeline == 1)
        #expect(pool.history.lastChange == nil)
        #expect(pool.history.unavailableReason == nil)

        let listener = PostgresListener(
            configuration: pool.configuration, channels: ["instances"], history: pool.history, logger: TestDatabase.logger)
        for await event in listener.events() {
            if case .connected = event { break }
        }
        listener.stop()
        #expect(pool.history.current == seen)
        #expect(pool.history.lastChange == nil, "the same server is no change")
    }

    @Test("another history is a change, numbered and delivered in order; the same one again is none")
    func changesAreDelivered() async throws {
        let watch = ServerHistoryWatch()
        let first = ServerHistory(systemIdentifier: "7", timeline: 1)
        #expect(watch.observe(first) == nil)
        #expect(watch.observe(first) == nil)
        let promoted = try #require(watch.observe(ServerHistory(systemIdentifier: "7", timeline: 2)))
        #expect(promoted.from == first && promoted.to.timeline == 2 && promoted.number == 1 && !promoted.isAnotherCluster)
        let restored = try #require(watch.observe(ServerHistory(systemIdentifier: "8", timeline: 1)))
        #expect(restored.number == 2 && restored.isAnotherCluster)
        var delivered: [Int] = []
        for await change in watch.changes() {
            delivered.append(change.number)
            if delivered.count == 2 { break }
        }
        #expect(delivered == [1, 2])
    }
}
