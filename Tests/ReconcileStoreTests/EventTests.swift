import Foundation
import PostgresTestSupport
import ReconcileStore
import Testing

@Suite("events")
struct EventTests {
    @Test("the same reason and message on the same key counts up instead of adding rows")
    func deduplication() async throws {
        let pool = try await TestDatabase.create(poolSize: 1)
        let key = try await Fixtures.workspace(pool)
        let events = EventStore(pool: pool)
        for offset in 0..<3 {
            try await events.record(
                controller: "instances", key: key, type: .warning, reason: "ProvisionFailed",
                message: "provider: quota exceeded", now: Date.epoch + Double(offset))
        }
        try await events.record(
            controller: "instances", key: key, type: .normal, reason: "Created", message: "instance i-1",
            now: Date.epoch + 10)
        let list = try await RecordedEvents.of(key, in: pool)
        #expect(list.count == 2)
        #expect(list[0].reason == "Created")
        #expect(list[1].count == 3)
        #expect(list[1].firstSeen == Date.epoch)
        #expect(list[1].lastSeen == Date.epoch + 2)
    }
}
