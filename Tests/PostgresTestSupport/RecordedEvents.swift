import Foundation
import Postgres
import ReconcileRuntime

/// An event as the `events` table holds it.
public struct RecordedEvent: Sendable, Equatable {
    public var controller: String
    public var key: String
    public var type: EventType
    public var reason: String
    public var message: String
    public var count: Int
    public var firstSeen: Date
    public var lastSeen: Date
}

/// What tests read of `events` (the product reads them through `FleetQueries`).
public enum RecordedEvents {
    /// The events of one key, newest first.
    public static func of(_ key: String, in pool: PostgresPool, limit: Int = 50) async throws -> [RecordedEvent] {
        let sql = """
            SELECT controller, key, type, reason, message, count, first_seen, last_seen
              FROM events WHERE key = $1::uuid ORDER BY last_seen DESC, id DESC LIMIT $2
            """
        return try await pool.query(sql, [key, limit]).rows.map { row in
            RecordedEvent(
                controller: try row.require(String.self, "controller"),
                key: try row.require(String.self, "key"),
                type: EventType(rawValue: try row.require(String.self, "type")) ?? .warning,
                reason: try row.require(String.self, "reason"),
                message: try row.require(String.self, "message"),
                count: try row.require(Int.self, "count"),
                firstSeen: try row.require(Date.self, "first_seen"),
                lastSeen: try row.require(Date.self, "last_seen"))
        }
    }
}
