import Postgres

/// Counts the rows this process's sessions wrote, per table, from PostgreSQL's own statistics
/// (`pg_stat_user_tables`), so `tick --check-idempotent` catches any write, whatever code made
/// it. Every pooled session is made to flush its pending statistics before each reading.
public struct WriteAudit: Sendable {
    public typealias Snapshot = [String: Int64]

    private let pool: PostgresPool

    public init(pool: PostgresPool) {
        self.pool = pool
    }

    /// Rows inserted, updated or deleted so far, per table.
    public func snapshot() async throws -> Snapshot {
        // Each session flushes its statistics when it next goes idle, i.e. right after this
        // statement and before it reports ready: once all have answered, the counts are exact.
        try await pool.forEachConnection { connection in
            try await connection.query("SELECT pg_stat_force_next_flush()")
        }
        return try await pool.withConnection { connection in
            try await connection.transaction { connection in
                try await connection.query("SELECT pg_stat_clear_snapshot()")
                let rows = try await connection.query(
                    """
                    SELECT relname, n_tup_ins + n_tup_upd + n_tup_del AS writes FROM pg_stat_user_tables
                    """
                ).rows
                var snapshot: Snapshot = [:]
                for row in rows {
                    snapshot[try row.require(String.self, "relname")] = try row.require(Int64.self, "writes")
                }
                return snapshot
            }
        }
    }

    /// Tables whose write count grew between two snapshots, with how many rows.
    public static func difference(from before: Snapshot, to after: Snapshot) -> [String: Int64] {
        var changed: [String: Int64] = [:]
        for (table, count) in after where count != before[table, default: 0] {
            changed[table] = count - before[table, default: 0]
        }
        return changed
    }
}
