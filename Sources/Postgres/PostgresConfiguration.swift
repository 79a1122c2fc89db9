/// How to reach PostgreSQL, and how long to wait for it. libpq interprets the conninfo, so URLs
/// (`postgresql://…`), key/value strings, multi-host lists, TLS modes and the `PG*` environment
/// variables all work; `conninfoWithDefaults` adds the timeouts and keepalives the user left out.
///
/// Every wait is bounded:
/// - connecting: libpq's `connect_timeout` per host address (`ConninfoDefaults`);
/// - a statement: `statementDeadline` from the moment it is sent, then the session is dropped;
/// - a dead peer on TCP: keepalives and `tcp_user_timeout` (`ConninfoDefaults`).
///
/// Every session also runs with `jit = off`: its statements are small, and a trigger's query
/// planned once for a large statement (a bump of 100,000 keys: transition tables of that size)
/// keeps its JIT-compiled plan in the session's cache and compiles it again at every later small
/// statement (5 ms a call instead of 0.8, measured by `molecule-bench --profile`).
public struct PostgresConfiguration: Sendable {
    /// A URL or key/value conninfo string. Empty means "libpq's environment variables and
    /// defaults" (`PGHOST`, `PGPORT`, `PGUSER`, `PGPASSWORD`, `PGSSLMODE`, ...).
    public var conninfo: String
    /// Server-side `statement_timeout` set on every new connection, in milliseconds;
    /// 0 disables it (then the margin below alone bounds a statement). Default 30 000.
    public var statementTimeoutMilliseconds: Int
    /// How long the client waits for an answer beyond `statementTimeoutMilliseconds` before it
    /// gives up on the session (cancels the statement, drops the connection, throws `.timeout`),
    /// in milliseconds. It covers the round trip and the server's own cancellation. Default 2 000.
    public var statementDeadlineMarginMilliseconds: Int
    /// The connect timeout, keepalives and TCP user timeout added to `conninfo` where the user
    /// set none (see `ConninfoDefaults` for the values and the rules).
    public var conninfoDefaults: ConninfoDefaults
    /// `application_name` reported to the server (visible in `pg_stat_activity`).
    public var applicationName: String
    /// Prepare each parameterised statement once per session and run it by name afterwards
    /// (parsing and planning once). Turn off behind a pooler that does not keep prepared
    /// statements across transactions (PgBouncer before 1.21 in transaction mode). Default true.
    public var preparesStatements = true

    public init(
        conninfo: String = "", statementTimeoutMilliseconds: Int = 30_000,
        statementDeadlineMarginMilliseconds: Int = 2_000, conninfoDefaults: ConninfoDefaults = ConninfoDefaults(),
        applicationName: String = "molecule-reconciler"
    ) {
        self.conninfo = conninfo
        self.statementTimeoutMilliseconds = statementTimeoutMilliseconds
        self.statementDeadlineMarginMilliseconds = statementDeadlineMarginMilliseconds
        self.conninfoDefaults = conninfoDefaults
        self.applicationName = applicationName
    }

    /// The client-side bound on one statement: the server's timeout plus the margin.
    public var statementDeadline: Duration {
        .milliseconds(max(0, statementTimeoutMilliseconds) + max(0, statementDeadlineMarginMilliseconds))
    }
}
