import BenchSupport
import Postgres

/// What one throughput phase cost per reconcile, in units that do not depend on how busy the
/// machine is: CPU of this process and of the server, and per statement its calls and the
/// shared-buffer pages it touched (`pg_stat_statements`, nested statements included), the WAL
/// written (full-page images after a checkpoint are what a longer phase pays more of) and the
/// checkpoints and autovacuum runs in the phase. Compared between key counts, it shows what
/// grows with the fleet.
struct RuntimeProfile {
    struct Statement {
        var calls: Int64
        var meanMS: Double
        var pagesPerCall: Double
        var query: String
    }

    /// The server's cumulative counters (all databases) at one moment.
    struct Server {
        var walBytes: Double
        var fullPageImages: Int64
        var checkpoints: Int64
        var autovacuums: Int64

        static func read(_ pool: PostgresPool) async throws -> Server {
            let row = try await pool.query(
                """
                SELECT w.wal_bytes::float8 AS wal_bytes, w.wal_fpi AS fpi,
                       (b.checkpoints_timed + b.checkpoints_req) AS checkpoints,
                       (SELECT coalesce(sum(autovacuum_count + autoanalyze_count), 0)::bigint FROM pg_stat_all_tables) AS autovacuums
                  FROM pg_stat_wal w, pg_stat_bgwriter b
                """
            ).rows[0]
            return Server(
                walBytes: try row.require(Double.self, "wal_bytes"), fullPageImages: try row.require(Int64.self, "fpi"),
                checkpoints: try row.require(Int64.self, "checkpoints"), autovacuums: try row.require(Int64.self, "autovacuums"))
        }
    }

    struct Start {
        var cpu: CPUUsage
        var server: Server
    }

    var keys: Int
    var cpu: CPUUsage
    var server: Server
    var statements: [Statement]

    /// Starts a phase: resets the statement statistics and returns the counters so far.
    static func begin(_ pool: PostgresPool, postmaster: Int32?) async throws -> Start {
        try await pool.query("SELECT pg_stat_statements_reset()")
        return Start(cpu: CPUUsage.now(postmaster: postmaster), server: try await Server.read(pool))
    }

    static func end(
        _ pool: PostgresPool, postmaster: Int32?, since start: Start, keys: Int, top: Int = 8
    ) async throws -> RuntimeProfile {
        let cpu = CPUUsage.now(postmaster: postmaster) - start.cpu
        // Statistics of other sessions (autovacuum's) reach the views within about a second.
        try await Task.sleep(for: .seconds(1))
        let now = try await Server.read(pool)
        let server = Server(
            walBytes: now.walBytes - start.server.walBytes,
            fullPageImages: now.fullPageImages - start.server.fullPageImages,
            checkpoints: now.checkpoints - start.server.checkpoints, autovacuums: now.autovacuums - start.server.autovacuums)
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
        return RuntimeProfile(keys: keys, cpu: cpu, server: server, statements: statements)
    }

    func lines() -> [String] {
        let perThousand = 1_000 / Double(max(keys, 1))
        var lines = [
            String(
                format: "   CPU per 1,000 reconciles: this process %.1f ms, PostgreSQL %.1f ms",
                cpu.process * perThousand * 1_000, cpu.server * perThousand * 1_000),
            String(
                format:
                    "   WAL per 1,000 reconciles: %.0f kB, %.0f full-page images; checkpoints %lld, autovacuum/analyze runs %lld",
                server.walBytes * perThousand / 1024, Double(server.fullPageImages) * perThousand, server.checkpoints,
                server.autovacuums),
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
