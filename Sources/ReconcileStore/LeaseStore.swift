import Foundation
import Postgres

/// Every statement that touches `leases` alone: renewal while a batch runs, the leases other
/// holders keep, and the release of everything at shutdown; and a reading of the database
/// clock, which decides expiry (`now` overrides it in tests). Taking leases (the batch claim) and giving them back with the
/// status write live in `ControllerStateStore`, because they span the controller's table.
public struct LeaseStore: Sendable {
    private let pool: PostgresPool

    public init(pool: PostgresPool) {
        self.pool = pool
    }

    /// Extends the leases still held under these tokens; returns the keys renewed. A key
    /// missing from the answer was taken over: its reconcile's writes will be refused.
    public func renew(
        controller: String, fences: [(key: String, token: Int64)], holder: String,
        leaseSeconds: Double, now: Date? = nil
    ) async throws -> Set<String> {
        guard !fences.isEmpty else { return [] }
        let sql = """
            UPDATE leases l SET expires_at = coalesce($5::timestamptz, now()) + $4 * interval '1 second'
              FROM unnest($2::uuid[], $3::bigint[]) AS f(key, token)
             WHERE l.controller = $1 AND l.key = f.key AND l.token = f.token AND l.holder = $6
            RETURNING l.key
            """
        let result = try await pool.query(sql, [controller, fences.map(\.key), fences.map(\.token), leaseSeconds, now, holder])
        return Set(try result.rows.map { try $0.require(String.self, "key") })
    }

    /// Of `keys`, those whose lease another holder keeps, with the seconds until it expires. A
    /// holder that died (`kill -9`) keeps its keys until then, and nobody else is told.
    public func selectHeldElsewhere(
        controller: String, keys: [String], holder: String,
        now: Date? = nil
    ) async throws -> [String: Double] {
        guard !keys.isEmpty else { return [:] }
        let sql = """
            SELECT key, extract(epoch FROM expires_at - coalesce($4::timestamptz, now()))::float8 AS wait
              FROM leases
             WHERE controller = $1 AND key = ANY($2::uuid[]) AND holder <> $3
               AND expires_at > coalesce($4::timestamptz, now())
            """
        return try await pool.query(sql, [controller, keys.sorted(), holder, now]).rows.reduce(into: [:]) {
            $0[try $1.require(String.self, "key")] = try $1.require(Double.self, "wait")
        }
    }

    /// The database's clock now: the time leases and retry times are decided by.
    public func databaseNow() async throws -> Date {
        try await pool.query("SELECT now() AS now").rows[0].require(Date.self, "now")
    }

    /// Releases every lease a holder still has (graceful shutdown).
    @discardableResult
    public func releaseAll(holder: String) async throws -> Int {
        try await pool.query("UPDATE leases SET holder = NULL, expires_at = NULL WHERE holder = $1", [holder]).affectedRows
    }

    /// Takes the named lease `name` of `group` (a lock on something that is not a controller
    /// key, e.g. one tunnel's configuration, shared by every replica) if it is free or expired;
    /// returns its fencing token, or nil when another holder has it. The row is made on first use.
    public func acquireNamed(group: String, name: String, holder: String, leaseSeconds: Double) async throws -> Int64? {
        let sql = """
            INSERT INTO leases AS l (controller, key, holder, token, expires_at)
            VALUES ($1, md5($2)::uuid, $3, 1, now() + $4 * interval '1 second')
            ON CONFLICT (controller, key) DO UPDATE
               SET holder = excluded.holder, token = l.token + 1, expires_at = excluded.expires_at
             WHERE l.holder IS NULL OR l.expires_at <= now()
            RETURNING l.token
            """
        return try await pool.query(sql, [group, name, holder, leaseSeconds]).rows.first?.require(Int64.self, "token")
    }

    /// Gives a named lease back if this token still holds it.
    public func releaseNamed(group: String, name: String, holder: String, token: Int64) async throws {
        try await pool.query(
            """
            UPDATE leases SET holder = NULL, expires_at = NULL
             WHERE controller = $1 AND key = md5($2)::uuid AND holder = $3 AND token = $4
            """, [group, name, holder, token])
    }
}
