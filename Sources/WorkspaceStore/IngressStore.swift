import Foundation
import IngressModel
import Postgres
import ReconcileRuntime
import ReconcileStore

/// Every statement of the tunnel-ingress controller: a tenant, the platform paths (the single
/// source of truth), how its status value (what was applied) is written, and the queue of
/// retired (tunnel, hostname) pairs.
public struct IngressStore: Sendable, StatusWriter, KeySubjects {
    private let pool: PostgresPool

    public init(pool: PostgresPool) {
        self.pool = pool
    }

    /// Each tenant's name and hostname, for log lines (`KeySubjects`).
    public func subjects(of keys: [String]) async throws -> [String: [String: String]] {
        guard !keys.isEmpty else { return [:] }
        let rows = try await pool.query("SELECT id, name, hostname FROM tenants WHERE id = ANY($1::uuid[])", [keys]).rows
        var subjects: [String: [String: String]] = [:]
        for row in rows {
            subjects[try row.require(String.self, "id")] = [
                "tenant.name": try row.require(String.self, "name"),
                "tenant.hostname": try row.require(String.self, "hostname"),
            ]
        }
        return subjects
    }

    public struct Inputs: Sendable {
        public var tenantID: String
        public var name: String
        public var hostname: String
        public var tunnelID: String
        /// Service name -> URL, for the services whose value is a string.
        public var services: [String: String]
        /// Services whose value is not a string (each one a clear error).
        public var malformedServices: [String]
        public var paths: [(pattern: String, service: String)]
        public var appliedHash: String?
        /// The paths skipped last time (`tunnel_ingress.skipped_paths`), to say a change once.
        public var skippedPaths: [IngressRenderer.SkippedPath]
    }

    /// nil when the tenant no longer exists.
    public func selectInputs(tenantID: String) async throws -> Inputs? {
        let sql = """
            SELECT t.id, t.name, t.hostname, t.tunnel_id, i.applied_hash, i.skipped_paths,
                   coalesce((SELECT jsonb_object_agg(k, v #>> '{}') FROM jsonb_each(t.services) AS e(k, v)
                              WHERE jsonb_typeof(v) = 'string'), '{}') AS services,
                   ARRAY(SELECT k FROM jsonb_each(t.services) AS e(k, v) WHERE jsonb_typeof(v) <> 'string' ORDER BY k)
                       AS malformed_services
              FROM tenants t JOIN tunnel_ingress i ON i.key = t.id
             WHERE t.id = $1::uuid AND jsonb_typeof(t.services) = 'object'
            """
        guard let row = try await pool.query(sql, [tenantID]).rows.first else { return nil }
        let paths = try await pool.query("SELECT pattern, service FROM platform_paths ORDER BY pattern").rows.map {
            (pattern: try $0.require(String.self, "pattern"), service: try $0.require(String.self, "service"))
        }
        return Inputs(
            tenantID: try row.require(String.self, "id"), name: try row.require(String.self, "name"),
            hostname: try row.require(String.self, "hostname"), tunnelID: try row.require(String.self, "tunnel_id"),
            services: try row.decodeJSON([String: String].self, "services") ?? [:],
            malformedServices: try row.decode([String].self, "malformed_services") ?? [],
            paths: paths, appliedHash: try row.decode(String.self, "applied_hash"),
            skippedPaths: try row.decodeJSON([IngressRenderer.SkippedPath].self, "skipped_paths") ?? [])
    }

    /// How an `IngressStatus` is written: what the provider holds for the tenant (its time
    /// moves when it changes).
    public var statusColumns: StatusColumns {
        StatusColumns(columns: [
            .init("applied_hash", "p.status ->> 'appliedHash'"),
            .init("applied_rules", "(p.status ->> 'appliedRules')::integer"),
            .init("skipped_paths", "p.status -> 'skippedPaths'"),
            .init(
                "applied_at",
                """
                CASE WHEN (s.applied_hash, s.applied_rules) IS DISTINCT FROM (p.status ->> 'appliedHash', (p.status ->> 'appliedRules')::integer)
                     THEN p.now ELSE s.applied_at END
                """),
        ])
    }

    /// (tunnel, hostname) pairs whose tenant is gone or moved, oldest first, except those
    /// waiting out a failure's retry time; a pair that a tenant owns again is not listed (and is
    /// forgotten by `forgetRetired`).
    public func selectRetired(limit: Int = 100, now: Date? = nil) async throws -> [(tunnelID: String, hostname: String)] {
        let sql = """
            SELECT r.tunnel_id, r.hostname FROM retired_ingress r
             WHERE NOT EXISTS (SELECT 1 FROM tenants t WHERE t.tunnel_id = r.tunnel_id AND t.hostname = r.hostname)
               AND (r.next_attempt_at IS NULL OR r.next_attempt_at <= coalesce($2::timestamptz, now()))
             ORDER BY r.retired_at, r.tunnel_id, r.hostname LIMIT $1
            """
        return try await pool.query(sql, [limit, now]).rows.map {
            (tunnelID: try $0.require(String.self, "tunnel_id"), hostname: try $0.require(String.self, "hostname"))
        }
    }

    /// Records why a retired pair could not be removed; it is retried after a backoff (1 s
    /// doubling, at most 5 min).
    public func recordRetiredFailure(tunnelID: String, hostname: String, error: String, now: Date? = nil) async throws {
        try await pool.query(
            """
            UPDATE retired_ingress
               SET attempts = attempts + 1, last_error = $3,
                   next_attempt_at = coalesce($4::timestamptz, now()) + least(300, power(2, least(attempts, 20))) * interval '1 second'
             WHERE tunnel_id = $1 AND hostname = $2
            """, [tunnelID, hostname, error, now])
    }

    /// Forgets retired pairs that are done with, and any that a tenant owns again.
    public func forgetRetired(tunnelID: String, hostname: String) async throws {
        try await pool.query(
            """
            DELETE FROM retired_ingress r WHERE (r.tunnel_id = $1 AND r.hostname = $2)
                OR EXISTS (SELECT 1 FROM tenants t WHERE t.tunnel_id = r.tunnel_id AND t.hostname = r.hostname)
            """, [tunnelID, hostname])
    }
}

/// The tunnel-ingress controller's status value. Field names are read by `IngressStore.statusColumns`.
public struct IngressStatus: StatusPatch, Equatable {
    public var appliedHash: String
    public var appliedRules: Int
    public var skippedPaths: [IngressRenderer.SkippedPath]

    public init(appliedHash: String, appliedRules: Int, skippedPaths: [IngressRenderer.SkippedPath]) {
        self.appliedHash = appliedHash
        self.appliedRules = appliedRules
        self.skippedPaths = skippedPaths
    }
}
