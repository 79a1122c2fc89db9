import Postgres

/// Counts the rows written, per table, since a horizon, from the rows themselves, so
/// `tick --check-idempotent` catches any write of its check pass, whatever code made it, and
/// nothing another session wrote before the pass began.
///
/// The horizon is the first transaction id not yet assigned when the audit begins (one past an
/// id the audit takes for itself); every transaction of the pass gets a later one. After the
/// pass, a row whose `xmin` lies between the horizon and the newest completed transaction is a
/// row the pass inserted or updated (a row version written by an older transaction, one still
/// running at the horizon included, is not). A deleted row leaves no version to count, so each table's
/// row count is taken at the horizon too, once every older transaction has ended, and a table
/// that has fewer rows of its own is counted as written. Exact where PostgreSQL's statistics
/// (`pg_stat_user_tables`) are not: an idle session reports its counts up to ~10 s late, so
/// another session's writes made just before the pass could be counted as the pass's, and
/// the pass's own could arrive after the reading.
///
/// The tables audited are those of the session's search path the role may read (the
/// reconciler reads every table it writes).
public struct WriteAudit: Sendable {
    /// Where an audit began: the horizon and each table's rows then.
    public struct Horizon: Sendable {
        /// The first transaction id (64-bit, epoch included) not assigned when the audit began.
        public var transaction: Int64
        /// Rows per table (its name, unqualified) at the horizon.
        public var rows: [String: Int64]
    }

    private let pool: PostgresPool
    /// How long `begin` waits for this database's transactions older than the horizon to end (a
    /// session left idle in a transaction would otherwise stall it); their deletions may be
    /// counted after it.
    private let settle: Duration

    public init(pool: PostgresPool, settle: Duration = .seconds(5)) {
        self.pool = pool
        self.settle = settle
    }

    /// Takes the horizon, waits (at most `settle`) for every transaction that began before it
    /// to end, and counts each table's rows.
    public func begin() async throws -> Horizon {
        try await pool.withConnection { connection in
            // An id of its own (it writes nothing): every id after it was assigned later. A
            // snapshot's xmax would not do: it is one past the newest *completed* transaction, and
            // a transaction still open may hold a later id.
            let transaction = try await connection.query(
                "SELECT pg_current_xact_id()::text::bigint + 1 AS horizon"
            ).rows[0].require(Int64.self, "horizon")
            let clock = ContinuousClock()
            let deadline = clock.now + settle
            // Only this database's: a test server's other databases may keep a transaction open
            // for seconds. Sessions of roles whose activity this one may not see are not waited for.
            while clock.now < deadline {
                let older = try await connection.query(
                    """
                    SELECT count(*) AS older FROM pg_stat_activity
                     WHERE datname = current_database() AND backend_xid IS NOT NULL
                       AND ($1::bigint % 4294967296 - backend_xid::text::bigint + 4294967296) % 4294967296
                           BETWEEN 1 AND 2147483647
                    """, [transaction]
                ).rows[0].require(Int.self, "older")
                if older == 0 { break }
                try await Task.sleep(for: .milliseconds(10))
            }
            var rows: [String: Int64] = [:]
            for table in try await Self.tables(on: connection) {
                rows[table.name] = try await connection.query("SELECT count(*) AS n FROM \(table.qualified)")
                    .rows[0].require(Int64.self, "n")
            }
            return Horizon(transaction: transaction, rows: rows)
        }
    }

    /// Tables written since the horizon, with how many rows: row versions written since it, or,
    /// where there are none, rows gone.
    public func writes(since horizon: Horizon) async throws -> [String: Int64] {
        try await pool.withConnection { connection in
            var writes: [String: Int64] = [:]
            for table in try await Self.tables(on: connection) {
                // 32-bit xids compared modulo 2^32 within the window of ids assigned since the
                // horizon; 0-2 are the special (bootstrap, frozen) ids, never a writer's.
                let row = try await connection.query(
                    """
                    WITH h AS (SELECT $1::bigint % 4294967296 AS horizon,
                                      pg_snapshot_xmax(pg_current_snapshot())::text::bigint - $1::bigint AS window)
                    SELECT count(*) AS total,
                           count(*) FILTER (WHERE t.xmin::text::bigint >= 3
                                              AND (t.xmin::text::bigint - h.horizon + 4294967296) % 4294967296 < h.window)
                               AS written
                      FROM \(table.qualified) t CROSS JOIN h
                    """, [horizon.transaction]
                ).rows[0]
                let written = try row.require(Int64.self, "written")
                let gone = horizon.rows[table.name, default: 0] - (try row.require(Int64.self, "total") - written)
                let count = max(written, gone)
                if count > 0 { writes[table.name] = count }
            }
            return writes
        }
    }

    /// The tables audited: ordinary tables of the search path that this role may read, each
    /// with its name quoted by the server, to be spliced into a statement.
    private static func tables(on connection: PostgresConnection) async throws -> [(name: String, qualified: String)] {
        try await connection.query(
            """
            SELECT c.relname, format('%I.%I', n.nspname, c.relname) AS qualified
              FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind = 'r' AND n.nspname = ANY(current_schemas(false))
               AND has_table_privilege(c.oid, 'SELECT')
             ORDER BY c.relname
            """
        ).rows.map { (try $0.require(String.self, "relname"), try $0.require(String.self, "qualified")) }
    }
}
