import Foundation
import Postgres
import ReconcileRuntime

/// Every statement on `events`: Kubernetes-style events, deduplicated on
/// (controller, key, type, reason, message) with a growing count.
public struct EventStore: Sendable {
    /// Messages are clipped to this many characters.
    static let maxMessageLength = 1024

    private let pool: PostgresPool

    public init(pool: PostgresPool) {
        self.pool = pool
    }

    /// Records an event, or counts it again if the same one exists. For events outside a
    /// reconcile (a sweeper's); a reconcile's events travel in its result and are written with
    /// its status, fenced by its lease.
    public func record(
        controller: String, key: String, type: EventType, reason: String, message: String,
        now: Date? = nil
    ) async throws {
        let sql = """
            INSERT INTO events AS e (controller, key, type, reason, message, first_seen, last_seen)
            VALUES ($1, $2::uuid, $3, $4, $5, coalesce($6::timestamptz, now()), coalesce($6::timestamptz, now()))
            ON CONFLICT (controller, key, type, reason, md5(message))
            DO UPDATE SET count = e.count + 1, last_seen = excluded.last_seen
            """
        try await pool.query(sql, [controller, key, type.rawValue, reason, Self.clip(message), now])
    }

    static func clip(_ message: String) -> String {
        message.count <= maxMessageLength ? message : String(message.prefix(maxMessageLength - 1)) + "…"
    }
}
