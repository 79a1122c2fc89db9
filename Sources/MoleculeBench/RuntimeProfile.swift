import BenchSupport
import Postgres

/// What one throughput phase cost per reconcile, in units that do not depend on how busy the
/// machine is: CPU of this process and of the server, and per statement its calls and the
/// shared-buffer pages it touched (`pg_stat_statements`, nested statements included). Compared
/// between key counts, it shows what grows with the fleet.
struct RuntimeProfile {
    struct Statement {
        var calls: Int64
        var meanMS: Double
        var pagesPerCall: Double
        var query: String
    }

    var keys: Int
    var cpu: CPUUsage
    var statements: [Statement]

    /// Starts a phase: resets the statement statistics and returns the CPU so far.
    static func begin(_ pool: PostgresPool, postmaster: Int32?) async throws -> CPUUsage {
        try await pool.query("SELECT pg_stat_statements_reset()")
        return CPUUsage.now(postmaster: postmaster)
    }

    static func end(
        _ pool: PostgresPool, postmaster: Int32?, since start: CPUUsage, keys: Int, top: Int = 8
    ) async throws -> RuntimeProfile {
        let cpu = CPUUsage.now(postmaster: postmaster) - start
        let statements = try await pool.query(
            """
            SELECT calls, mean_exec_time::float8 AS mean_ms,
                   ((shared_blks_hit + shared_blks_read)::float8 / greatest(calls, 1)) AS pages,
                   left(regexp_replace(query, '\\s+', ' ', 'g'), 110) AS query
              FROM pg_stat_statements
             WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
               AND query !~* '^\\s*SET\\s' AND query !~* 'pg_stat_statements'
             ORDER BY total_exec_time DESC
             LIMIT $1
            """, [top]
        ).rows.map { row in
            Statement(
                calls: try row.require(Int64.self, "calls"), meanMS: try row.require(Double.self, "mean_ms"),
                pagesPerCall: try row.require(Double.self, "pages"), query: try row.require(String.self, "query"))
        }
        return RuntimeProfile(keys: keys, cpu: cpu, statements: statements)
    }

    func lines() -> [String] {
        let perThousand = 1_000 / Double(max(keys, 1))
        var lines = [
            String(
                format: "   CPU per 1,000 reconciles: this process %.1f ms, PostgreSQL %.1f ms",
                cpu.process * perThousand * 1_000, cpu.server * perThousand * 1_000),
            "   calls      mean ms   pages/call   statement (top by server time, nested included)",
        ]
        for statement in statements {
            lines.append(
                String(format: "   %8lld   %7.3f   %10.1f   ", statement.calls, statement.meanMS, statement.pagesPerCall)
                    + statement.query)
        }
        return lines
    }
}
