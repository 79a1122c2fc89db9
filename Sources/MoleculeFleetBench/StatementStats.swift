import Postgres

/// Reads `pg_stat_statements` of the `fleet` database: top-level statements per role (each
/// controller has its own; one top-level statement is one round trip), the statements that took
/// the most server time (top-level, and nested ones run by triggers and functions), and the
/// functions that did (`pg_stat_user_functions`). The `SET`s every new session sends (time
/// zone, date style, statement timeout) are left out.
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
        var nested: Bool
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
        let rows = try await connection.query(
            """
            SELECT r.rolname AS role, sum(s.calls)::bigint AS calls, sum(s.total_exec_time)::float8 AS exec_ms,
                   sum(s.total_plan_time)::float8 AS plan_ms
              FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid
             WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
               AND s.toplevel AND s.query !~* '^\\s*SET\\s'
             GROUP BY r.rolname
            """
        ).rows
        var result: [String: PerRole] = [:]
        for row in rows {
            result[try row.require(String.self, "role")] = PerRole(
                calls: try row.require(Int64.self, "calls"), executionMS: try row.require(Double.self, "exec_ms"),
                planningMS: try row.require(Double.self, "plan_ms"))
        }
        return result
    }

    /// The `limit` top-level statements of the controllers' roles with the most server time,
    /// or (`nested`) the `limit` statements their triggers and functions ran.
    func top(_ limit: Int, nested: Bool) async throws -> [Top] {
        try await connection.query(
            """
            SELECT r.rolname AS role, s.calls, s.total_exec_time::float8 AS exec_ms, s.total_plan_time::float8 AS plan_ms,
                   left(regexp_replace(s.query, '\\s+', ' ', 'g'), 150) AS query
              FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid
             WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
               AND r.rolname LIKE 'fleet\\_%' AND s.query !~* '^\\s*SET\\s' AND s.toplevel <> $2
             ORDER BY s.total_exec_time + s.total_plan_time DESC
             LIMIT $1
            """, [limit, nested]
        ).rows.map { row in
            Top(
                nested: nested, role: try row.require(String.self, "role"), calls: try row.require(Int64.self, "calls"),
                executionMS: try row.require(Double.self, "exec_ms"), planningMS: try row.require(Double.self, "plan_ms"),
                query: try row.require(String.self, "query"))
        }
    }

    /// Calls and time of every function run in the database so far (flushed by each session
    /// within a second of a transaction's end, or up to ten seconds while it is busy).
    func functions() async throws -> [String: FunctionTime] {
        let rows = try await connection.query(
            """
            SELECT funcname, calls, total_time::float8 AS total_ms, self_time::float8 AS self_ms FROM pg_stat_user_functions
            """
        ).rows
        var result: [String: FunctionTime] = [:]
        for row in rows {
            result[try row.require(String.self, "funcname"), default: .init()].add(
                FunctionTime(
                    calls: try row.require(Int64.self, "calls"), totalMS: try row.require(Double.self, "total_ms"),
                    selfMS: try row.require(Double.self, "self_ms")))
        }
        return result
    }
}

struct FunctionTime: Sendable {
    var calls: Int64 = 0
    var totalMS = 0.0
    var selfMS = 0.0

    mutating func add(_ other: FunctionTime) {
        calls += other.calls
        totalMS += other.totalMS
        selfMS += other.selfMS
    }

    static func - (lhs: FunctionTime, rhs: FunctionTime) -> FunctionTime {
        FunctionTime(calls: lhs.calls - rhs.calls, totalMS: lhs.totalMS - rhs.totalMS, selfMS: lhs.selfMS - rhs.selfMS)
    }
}
