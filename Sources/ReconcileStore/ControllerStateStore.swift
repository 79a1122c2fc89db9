import Foundation
import Postgres

/// Every statement on a controller table, including the two that span it and its `leases`
/// rows (claim, and write-back-and-release), so that a batch of keys costs two round trips.
///
/// Time comes from the database: `now` overrides `now()` only in tests and tick mode.
public struct ControllerStateStore: Sendable {
    public let table: ControllerTable
    private let pool: PostgresPool

    public init(table: ControllerTable, pool: PostgresPool) {
        self.table = table
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
    }

    /// Takes the leases of those `keys` that are free (or expired) and not waiting out a
    /// retry time, and reads their generations. Keys held elsewhere or in backoff are left out.
    public func claim(keys: [String], holder: String, leaseSeconds: Double, now: Date?) async throws -> [Claimed] {
        guard !keys.isEmpty else { return [] }
        let sql = """
            UPDATE leases l
               SET holder = $3, token = l.token + 1,
                   expires_at = coalesce($5::timestamptz, now()) + $4 * interval '1 second'
              FROM \(table.quoted) s
             WHERE l.controller = $1 AND l.key = ANY($2::uuid[]) AND s.key = l.key
               AND (l.holder IS NULL OR l.expires_at <= coalesce($5::timestamptz, now()))
               AND (s.next_attempt_at IS NULL OR s.next_attempt_at <= coalesce($5::timestamptz, now()))
            RETURNING l.key, l.token, s.desired_generation, s.observed_generation, s.attempts, s.last_error
            """
        let result = try await pool.query(sql, [table.name, keys.sorted(), holder, leaseSeconds, now])
        return try result.rows.map { row in
            Claimed(key: try row.require(String.self, "key"),
                    token: try row.require(Int64.self, "token"),
                    desiredGeneration: try row.require(Int64.self, "desired_generation"),
                    observedGeneration: try row.require(Int64.self, "observed_generation"),
                    attempts: try row.require(Int.self, "attempts"),
                    lastError: try row.decode(String.self, "last_error"))
        }
    }

    /// What the write-back did.
    public struct WriteResult: Sendable, Equatable {
        /// Keys whose lease was still ours (token current) and is now released.
        public var fenced: Set<String>
        /// Of those, keys whose status row actually changed.
        public var written: Set<String>
    }

    /// Writes each key's status, records its event, and releases its lease, all conditional on
    /// the fencing token still being current. A status identical to the stored one is not
    /// written (a converged pass writes nothing).
    public func writeBack(_ writes: [StatusWrite], holder: String, now: Date?) async throws -> WriteResult {
        guard !writes.isEmpty else { return WriteResult(fenced: [], written: []) }
        let sql = """
            WITH input AS (
                SELECT * FROM unnest($2::uuid[], $3::bigint[], $4::bigint[], $5::text[], $6::float8[],
                                     $7::text[], $8::text[], $9::text[])
                    AS i(key, token, generation, error, delay, event_type, event_reason, event_message)
            ), clock AS (
                SELECT coalesce($11::timestamptz, now()) AS now
            ), released AS (
                UPDATE leases l SET holder = NULL, expires_at = NULL
                  FROM input i
                 WHERE l.controller = $1 AND l.key = i.key AND l.holder = $10 AND l.token = i.token
                RETURNING l.key
            ), status AS (
                UPDATE \(table.quoted) s
                   SET observed_generation = coalesce(i.generation, s.observed_generation),
                       attempts = CASE WHEN i.error IS NULL THEN 0 ELSE s.attempts + 1 END,
                       last_error = i.error,
                       last_error_at = CASE WHEN i.error IS NULL THEN NULL ELSE (SELECT now FROM clock) END,
                       next_attempt_at = CASE WHEN i.delay IS NULL THEN NULL
                                              WHEN i.delay < 0 THEN 'infinity'::timestamptz
                                              ELSE (SELECT now FROM clock) + i.delay * interval '1 second' END
                  FROM input i JOIN released r ON r.key = i.key
                 WHERE s.key = i.key
                   AND (i.error IS NOT NULL OR i.delay IS NOT NULL
                        OR s.observed_generation IS DISTINCT FROM coalesce(i.generation, s.observed_generation)
                        OR s.attempts <> 0 OR s.last_error IS NOT NULL OR s.next_attempt_at IS NOT NULL)
                RETURNING s.key
            ), recorded AS (
                INSERT INTO events AS e (controller, key, type, reason, message, first_seen, last_seen)
                SELECT $1, i.key, i.event_type, i.event_reason, i.event_message, c.now, c.now
                  FROM input i JOIN released r ON r.key = i.key CROSS JOIN clock c
                 WHERE i.event_type IS NOT NULL
                ON CONFLICT (controller, key, type, reason, md5(message))
                DO UPDATE SET count = e.count + 1, last_seen = excluded.last_seen
                RETURNING 1
            )
            SELECT r.key, EXISTS (SELECT 1 FROM status s WHERE s.key = r.key) AS written FROM released r
            """
        let parameters: [(any PostgresEncodable)?] = [
            table.name,
            writes.map(\.key),
            writes.map(\.token),
            nullable(writes.map { $0.observedGeneration.map(String.init) }),
            nullable(writes.map(\.error)),
            nullable(writes.map { write -> String? in
                switch write.retry {
                case .none: return nil
                case .after(let seconds): return String(max(0, seconds))
                case .never: return "-1"
                }
            }),
            nullable(writes.map { $0.event?.type.rawValue }),
            nullable(writes.map { $0.event?.reason }),
            nullable(writes.map { $0.event.map { EventStore.clip($0.message) } }),
            holder,
            now,
        ]
        let result = try await pool.query(sql, parameters)
        var fenced = Set<String>()
        var written = Set<String>()
        for row in result.rows {
            let key = try row.require(String.self, "key")
            fenced.insert(key)
            if try row.require(Bool.self, "written") { written.insert(key) }
        }
        return WriteResult(fenced: fenced, written: written)
    }

    /// A key that is not converged: due now, or after `waitSeconds` (by the database clock).
    public struct Pending: Sendable, Equatable {
        public var key: String
        public var waitSeconds: Double
        public var isDue: Bool { waitSeconds <= 0 }
    }

    /// Every key whose generations differ or that carries a retry time, except terminal ones.
    /// Reads only the `<table>_due` partial index's rows, so it costs nothing on a converged fleet.
    public func selectPending(now: Date? = nil) async throws -> [Pending] {
        let sql = """
            SELECT key, coalesce(extract(epoch FROM next_attempt_at - coalesce($1::timestamptz, now())), 0)::float8 AS wait
              FROM \(table.quoted)
             WHERE (desired_generation <> observed_generation OR next_attempt_at IS NOT NULL)
               AND next_attempt_at IS DISTINCT FROM 'infinity'::timestamptz
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
            Unconverged(key: try row.require(String.self, "key"),
                        desiredGeneration: try row.require(Int64.self, "desired_generation"),
                        observedGeneration: try row.require(Int64.self, "observed_generation"),
                        attempts: try row.require(Int.self, "attempts"),
                        nextAttemptAt: try row.decode(Date.self, "next_attempt_at"),
                        lastError: try row.decode(String.self, "last_error"),
                        lastErrorAt: try row.decode(Date.self, "last_error_at"))
        }
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
        return (try row.require(Int.self, "total"), try row.require(Int.self, "unconverged"), try row.require(Int.self, "failing"))
    }
}

/// An array literal whose NULL elements stay NULL (the typed array encoders have none).
private func nullable(_ values: [String?]) -> String {
    values.postgresArrayText
}
