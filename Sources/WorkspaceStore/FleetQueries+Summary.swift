import Foundation
import Postgres

/// `status`: the fleet's health in a few numbers, and the workspaces and tenants that fail.
extension FleetQueries {
    public struct Summary: Sendable, Codable, Equatable {
        public var workspaces: Int
        /// Workspaces per phase (only phases that occur).
        public var phases: [String: Int]
        public var restartPending: Int
        /// Workspaces that should run and are not running with `Ready` True, or that should be
        /// stopped or deleted and are not yet.
        public var notConverged: Int
        /// Workspaces whose phase is failed or that carry a `last_error`.
        public var failing: Int
        public var tenants: Int
        public var failingTenants: Int
        public var notConvergedTenants: Int
        /// The failing workspaces and tenants, by name, with their error (at most `limit`).
        public var failures: [Failure]
    }

    public struct Failure: Sendable, Codable, Equatable {
        /// `workspace/ORG/NAME` or `tenant/NAME`.
        public var object: String
        public var phase: String?
        public var error: String
    }

    public func selectSummary(limit: Int = 50) async throws -> Summary {
        let counts = try await pool.query(
            """
            SELECT count(*) AS total,
                   count(*) FILTER (WHERE restart_pending) AS restart_pending,
                   count(*) FILTER (WHERE phase = 'failed' OR last_error IS NOT NULL) AS failing,
                   count(*) FILTER (WHERE (desired_state = 'running'
                                           AND (phase <> 'running' OR (conditions -> 'Ready' ->> 'status') IS DISTINCT FROM 'True'))
                                       OR (desired_state <> 'running' AND phase <> desired_state)) AS not_converged
              FROM workspaces
            """
        ).rows[0]
        var phases: [String: Int] = [:]
        for row in try await pool.query("SELECT phase, count(*) AS n FROM workspaces GROUP BY phase").rows {
            phases[try row.require(String.self, "phase")] = try row.require(Int.self, "n")
        }
        let tenants = try await pool.query(
            """
            SELECT count(*) AS total, count(*) FILTER (WHERE i.last_error IS NOT NULL) AS failing,
                   count(*) FILTER (WHERE i.key IS NULL OR i.desired_generation <> i.observed_generation) AS not_converged
              FROM tenants t LEFT JOIN tunnel_ingress i ON i.key = t.id
            """
        ).rows[0]
        let failures = try await pool.query(
            """
            (SELECT 'workspace/' || org || '/' || name AS object, phase, coalesce(last_error, 'phase failed') AS error
               FROM workspaces WHERE phase = 'failed' OR last_error IS NOT NULL ORDER BY org, name LIMIT $1)
            UNION ALL
            (SELECT 'tenant/' || t.name, NULL, i.last_error
               FROM tenants t JOIN tunnel_ingress i ON i.key = t.id WHERE i.last_error IS NOT NULL ORDER BY t.name LIMIT $1)
            """, [limit]
        ).rows.map { row in
            Failure(
                object: try row.require(String.self, "object"), phase: try row.decode(String.self, "phase"),
                error: try row.require(String.self, "error"))
        }
        return Summary(
            workspaces: try counts.require(Int.self, "total"), phases: phases,
            restartPending: try counts.require(Int.self, "restart_pending"),
            notConverged: try counts.require(Int.self, "not_converged"), failing: try counts.require(Int.self, "failing"),
            tenants: try tenants.require(Int.self, "total"), failingTenants: try tenants.require(Int.self, "failing"),
            notConvergedTenants: try tenants.require(Int.self, "not_converged"), failures: failures)
    }
}
