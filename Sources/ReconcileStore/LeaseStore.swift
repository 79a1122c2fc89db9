import Foundation
import Postgres

/// Every statement that touches `leases` alone. Expiry is decided by the database clock
/// (`now` overrides it in tests). The batch claim and the release-with-status live in
/// `ControllerStateStore`, because they span the controller's table.
public struct LeaseStore: Sendable {
    private let pool: PostgresPool

    public init(pool: PostgresPool) {
        self.pool = pool
    }

    /// Takes the lease on one key if it is free or expired; returns the new fencing token.
    public func acquire(controller: String, key: String, holder: String, leaseSeconds: Double, now: Date? = nil) async throws -> Int64? {
        let sql = """
            UPDATE leases SET holder = $3, token = token + 1,
                   expires_at = coalesce($5::timestamptz, now()) + $4 * interval '1 second'
             WHERE controller = $1 AND key = $2::uuid
               AND (holder IS NULL OR expires_at <= coalesce($5::timestamptz, now()))
            RETURNING token
            """
        return try await pool.query(sql, [controller, key, holder, leaseSeconds, now]).rows.first?.require(Int64.self, "token")
    }

    /// Extends the leases still held under these tokens; returns the keys renewed. A key
    /// missing from the answer was taken over: its reconcile's writes will be refused.
    public func renew(controller: String, fences: [(key: String, token: Int64)], holder: String,
                      leaseSeconds: Double, now: Date? = nil) async throws -> Set<String> {
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

    /// Gives a lease back if this token still holds it.
    @discardableResult
    public func release(controller: String, key: String, holder: String, token: Int64) async throws -> Bool {
        let sql = """
            UPDATE leases SET holder = NULL, expires_at = NULL
             WHERE controller = $1 AND key = $2::uuid AND holder = $3 AND token = $4
            """
        return try await pool.query(sql, [controller, key, holder, token]).affectedRows == 1
    }

    /// Releases every lease a holder still has (graceful shutdown).
    @discardableResult
    public func releaseAll(holder: String) async throws -> Int {
        try await pool.query("UPDATE leases SET holder = NULL, expires_at = NULL WHERE holder = $1", [holder]).affectedRows
    }

    public struct Lease: Sendable, Equatable {
        public var holder: String?
        public var token: Int64
        public var expiresAt: Date?
    }

    public func select(controller: String, key: String) async throws -> Lease? {
        let sql = "SELECT holder, token, expires_at FROM leases WHERE controller = $1 AND key = $2::uuid"
        return try await pool.query(sql, [controller, key]).rows.first.map { row in
            Lease(holder: try row.decode(String.self, "holder"), token: try row.require(Int64.self, "token"),
                  expiresAt: try row.decode(Date.self, "expires_at"))
        }
    }
}
