import Foundation
import Postgres

/// Every statement on a controller table, including the two that span it and its `leases`
/// rows (claim, and write-back-and-release), so that a batch of keys costs two round trips.
///
/// Time comes from the database: `now` overrides `now()` only in tests and tick mode.
public struct ControllerStateStore: Sendable {
    public let table: ControllerTable
    /// How the controller's status value is written (see `StatusColumns`).
    public let statusColumns: StatusColumns
    let pool: PostgresPool

    public init(table: ControllerTable, statusColumns: StatusColumns = .none, pool: PostgresPool) {
        self.table = table
        self.statusColumns = statusColumns
        self.pool = pool
    }

    /// A key as the claim found it.
    public struct Claimed: Sendable, Equatable {
        public var key: String
        public var token: Int64
        public var desiredGeneration: Int64
        public var observedGeneration: Int64
        public var attempts: Int
        public var lastError: String?
        /// Whether the lease was taken from another holder whose lease had expired (a replica
        /// that died or stalled), rather than claimed free or back from this holder.
        public var tookOver: Bool
    }

    /// Takes the leases of those `keys` that are free, expired or already this holder's (a
    /// replica's own leases are its own: after a failed write-back it takes them back at once
    /// instead of waiting for them to expire; the token still moves, so the old write is fenced
    /// off), and that are not waiting out a failure's retry time, and reads their generations.
    /// A key merely scheduled for a look (a watch) is claimed at once. Keys held elsewhere or in
    /// backoff are left out.
    public func claim(keys: [String], holder: String, leaseSeconds: Double, now: Date?) async throws -> [Claimed] {
        guard !keys.isEmpty else { return [] }
        let sql = """
            UPDATE leases l
               SET holder = $3, token = l.token + 1,
                   expires_at = coalesce($5::timestamptz, now()) + $4 * interval '1 second'
              FROM \(table.quoted) s, leases old_lease
             WHERE l.controller = $1 AND l.key = ANY($2::uuid[]) AND s.key = l.key
               AND old_lease.controller = l.controller AND old_lease.key = l.key
               AND (l.holder IS NULL OR l.holder = $3 OR l.expires_at <= coalesce($5::timestamptz, now()))
               AND (s.attempts = 0 OR s.next_attempt_at IS NULL OR s.next_attempt_at <= coalesce($5::timestamptz, now()))
            RETURNING l.key, l.token, s.desired_generation, s.observed_generation, s.attempts, s.last_error,
                      coalesce(old_lease.holder <> $3, false) AS took_over
            """
        let result = try await pool.query(sql, [table.name, keys.sorted(), holder, leaseSeconds, now])
        return try result.rows.map { row in
            Claimed(
                key: try row.require(String.self, "key"),
                token: try row.require(Int64.self, "token"),
                desiredGeneration: try row.require(Int64.self, "desired_generation"),
                observedGeneration: try row.require(Int64.self, "observed_generation"),
                attempts: try row.require(Int.self, "attempts"),
                lastError: try row.decode(String.self, "last_error"),
                tookOver: try row.require(Bool.self, "took_over"))
        }
    }

    /// A key that is not converged: due now, or after `waitSeconds` (by the database clock).
    public struct Pending: Sendable, Equatable {
        public var key: String
        public var waitSeconds: Double
        public var isDue: Bool { waitSeconds <= 0 }
    }

    /// Keys that are due now or within `horizon` seconds (by the database clock): keys not
    /// converged and not waiting, and keys whose next look (a retry, a watch) comes within the
    /// horizon. Terminal keys (`infinity`) never are. Two range scans of the `<table>_due`
    /// partial index, so a converged fleet with its watches far off costs next to nothing.
    public func selectPending(within horizon: Double = 0, now: Date? = nil) async throws -> [Pending] {
        let sql = """
            WITH clock AS (SELECT coalesce($1::timestamptz, now()) AS now)
            SELECT key, 0::float8 AS wait FROM \(table.quoted)
             WHERE desired_generation <> observed_generation AND next_attempt_at IS NULL
            UNION ALL
            SELECT key, greatest(0, extract(epoch FROM next_attempt_at - (SELECT now FROM clock)))::float8
              FROM \(table.quoted)
             WHERE next_attempt_at <= (SELECT now FROM clock) + $2 * interval '1 second'
            """
        return try await pool.query(sql, [now, horizon]).rows.map { row in
            Pending(key: try row.require(String.self, "key"), waitSeconds: try row.require(Double.self, "wait"))
        }
    }

    /// Keys still converging: not failing, with a look scheduled (an instance booting, a
    /// debounce, a remediation's wait), and the seconds until it.
    public func selectConverging(now: Date? = nil) async throws -> [Pending] {
        let sql = """
            SELECT key, greatest(0, extract(epoch FROM next_attempt_at - coalesce($1::timestamptz, now())))::float8 AS wait
              FROM \(table.quoted)
             WHERE desired_generation <> observed_generation AND attempts = 0 AND next_attempt_at IS NOT NULL
            """
        return try await pool.query(sql, [now]).rows.map { row in
            Pending(key: try row.require(String.self, "key"), waitSeconds: try row.require(Double.self, "wait"))
        }
    }

    /// One page of all keys in key order, for the paced full resync.
    public func selectKeys(after key: String?, limit: Int) async throws -> [String] {
        let sql = """
            SELECT key FROM \(table.quoted) WHERE $1::uuid IS NULL OR key > $1::uuid ORDER BY key LIMIT $2
            """
        return try await pool.query(sql, [key, limit]).rows.map { try $0.require(String.self, "key") }
    }

    /// Why a key is not converged, for `molecule-reconciler status`.
    public struct Unconverged: Sendable, Codable, Equatable {
        public var key: String
        public var desiredGeneration: Int64
        public var observedGeneration: Int64
        public var attempts: Int
        public var nextAttemptAt: Date?
        public var lastError: String?
        public var lastErrorAt: Date?
    }

    public func selectUnconverged(limit: Int) async throws -> [Unconverged] {
        let sql = """
            SELECT key, desired_generation, observed_generation, attempts, next_attempt_at, last_error, last_error_at
              FROM \(table.quoted)
             WHERE desired_generation <> observed_generation OR last_error IS NOT NULL
             ORDER BY last_error_at DESC NULLS LAST, key
             LIMIT $1
            """
        return try await pool.query(sql, [limit]).rows.map { row in
            Unconverged(
                key: try row.require(String.self, "key"),
                desiredGeneration: try row.require(Int64.self, "desired_generation"),
                observedGeneration: try row.require(Int64.self, "observed_generation"),
                attempts: try row.require(Int.self, "attempts"),
                nextAttemptAt: try row.decode(Date.self, "next_attempt_at"),
                lastError: try row.decode(String.self, "last_error"),
                lastErrorAt: try row.decode(Date.self, "last_error_at"))
        }
    }

    /// What the metrics gauges show of a controller: keys failing (`last_error` set, terminal
    /// ones included) and keys due now (by the database clock). One scan of the table, so it is
    /// run periodically, not per reconcile.
    public func selectKeyGauges(now: Date? = nil) async throws -> (failing: Int, due: Int) {
        let sql = """
            SELECT count(*) FILTER (WHERE last_error IS NOT NULL) AS failing,
                   count(*) FILTER (
                     WHERE (desired_generation <> observed_generation AND next_attempt_at IS NULL)
                        OR next_attempt_at <= coalesce($1::timestamptz, now())) AS due
              FROM \(table.quoted)
            """
        let row = try await pool.query(sql, [now]).rows[0]
        return (try row.require(Int.self, "failing"), try row.require(Int.self, "due"))
    }

    /// Counts of all keys and of keys not converged.
    public func selectCounts() async throws -> (total: Int, unconverged: Int, failing: Int) {
        let sql = """
            SELECT count(*) AS total,
                   count(*) FILTER (WHERE desired_generation <> observed_generation) AS unconverged,
                   count(*) FILTER (WHERE last_error IS NOT NULL) AS failing
              FROM \(table.quoted)
            """
        let row = try await pool.query(sql).rows[0]
        return (
            try row.require(Int.self, "total"), try row.require(Int.self, "unconverged"), try row.require(Int.self, "failing")
        )
    }
}

/// An array literal whose NULL elements stay NULL (the typed array encoders have none).
func nullable(_ values: [String?]) -> String {
    values.postgresArrayText
}
