/// How to reach PostgreSQL. libpq interprets everything, so URLs (`postgresql://…`), key/value
/// conninfo strings, multi-host lists, TLS modes and the `PG*` environment variables all work;
/// `conninfoWithDefaults` adds the timeouts and keepalives the user left out.
public struct PostgresConfiguration: Sendable {
    /// A URL or key/value conninfo string. Empty means "libpq's environment variables and
    /// defaults" (`PGHOST`, `PGPORT`, `PGUSER`, `PGPASSWORD`, `PGSSLMODE`, ...).
    public var conninfo: String
    /// Server-side `statement_timeout` set on every new connection, in milliseconds;
    /// 0 disables it. Default 30 000.
    public var statementTimeoutMilliseconds: Int
    /// The connect timeout, keepalives and TCP user timeout added to `conninfo` where the user
    /// set none (see `ConninfoDefaults` for the values and the rules).
    public var conninfoDefaults: ConninfoDefaults
    /// `application_name` reported to the server (visible in `pg_stat_activity`).
    public var applicationName: String

    public init(conninfo: String = "", statementTimeoutMilliseconds: Int = 30_000,
                conninfoDefaults: ConninfoDefaults = ConninfoDefaults(),
                applicationName: String = "molecule-reconciler") {
        self.conninfo = conninfo
        self.statementTimeoutMilliseconds = statementTimeoutMilliseconds
        self.conninfoDefaults = conninfoDefaults
        self.applicationName = applicationName
    }
}
