/// How to reach PostgreSQL. libpq interprets everything, so URLs (`postgresql://…`), key/value
/// conninfo strings, multi-host lists, TLS modes and the `PG*` environment variables all work.
public struct PostgresConfiguration: Sendable {
    /// A URL or key/value conninfo string. Empty means "libpq's environment variables and
    /// defaults" (`PGHOST`, `PGPORT`, `PGUSER`, `PGPASSWORD`, `PGSSLMODE`, ...).
    public var conninfo: String
    /// Server-side `statement_timeout` set on every new connection, in milliseconds;
    /// 0 disables it. Default 30 000.
    public var statementTimeoutMilliseconds: Int
    /// `application_name` reported to the server (visible in `pg_stat_activity`).
    public var applicationName: String

    public init(conninfo: String = "", statementTimeoutMilliseconds: Int = 30_000,
                applicationName: String = "molecule-reconciler") {
        self.conninfo = conninfo
        self.statementTimeoutMilliseconds = statementTimeoutMilliseconds
        self.applicationName = applicationName
    }
}
