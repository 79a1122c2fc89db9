import Postgres

/// Reads `pg_stat_statements` of the `fleet` database: statements per role (each controller has
/// its own), and the statements that took the most server time. Top-level statements only
/// (`track = top`), so one statement is one round trip; the `SET`s every new session sends
/// (time zone, date style, statement timeout) are left out.
struct StatementStats {
    let connection: PostgresConnection

    struct PerRole: Sendable {
        var calls: Int64 = 0
        /// Execution and planning time on the server, in milliseconds (planning only with
        /// `--track-planning`).
        var executionMS = 0.0
        var planningMS = 0.0
    }

    struct Top: Sendable {
        var role: String
        var calls: Int64
        var executionMS: Double
        var planningMS: Double
        var query: String
    }

    /// Deadlocks the server detected in this database so far (its statistics are flushed
    /// within about a second).
    func deadlocks() async throws -> Int64 {
        try await connection.query("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
            .rows[0].require(Int64.self, "deadlocks")
    }

    func reset() async throws {
        try await connection.query("SELECT pg_stat_statements_reset()")
    }

    func perRole() async throws -> [String: PerRole] {
        let rows = try await connection.query("""
            SELECT r.rolname AS role, sum(s.calls)::bigint AS calls, sum(s.total_exec_time)::float8 AS exec_ms,
                   sum(s.total_plan_time)::float8 AS plan_ms
              FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid
             WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
               AND s.query !~* '^\\s*SET\\s'
             GROUP BY r.rolname
            """).rows
        var result: [String: PerRole] = [:]
        for row in rows {
            result[try row.require(String.self, "role")] = PerRole(
                calls: try row.require(Int64.self, "calls"), executionMS: try row.require(Double.self, "exec_ms"),
                planningMS: try row.require(Double.self, "plan_ms"))
        }
        return result
    }

    /// The `limit` statements of the controllers' roles with the most server time.
    func top(_ limit: Int) async throws -> [Top] {
        try await connection.query("""
            SELECT r.rolname AS role, s.calls, s.total_exec_time::float8 AS exec_ms, s.total_plan_time::float8 AS plan_ms,
                   left(regexp_replace(s.query, '\\s+', ' ', 'g'), 150) AS query
              FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid
             WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
               AND r.rolname LIKE 'fleet\\_%' AND s.query !~* '^\\s*SET\\s'
             ORDER BY s.total_exec_time + s.total_plan_time DESC
             LIMIT $1
            """, [limit]).rows.map { row in
            Top(role: try row.require(String.self, "role"), calls: try row.require(Int64.self, "calls"),
                executionMS: try row.require(Double.self, "exec_ms"), planningMS: try row.require(Double.self, "plan_ms"),
                query: try row.require(String.self, "query"))
        }
    }
}
