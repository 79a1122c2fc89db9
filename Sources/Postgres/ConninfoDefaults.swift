/// The settings that make libpq give up on a silent server, added to a conninfo only where the
/// user set nothing, so that an explicit value (in the string, the URL or `PG*` variables) wins.
///
/// - `connect_timeout` is always added (it also bounds a unix-socket connect to a stopped server),
///   unless the conninfo or `PGCONNECT_TIMEOUT` sets one. Over TCP it is libpq's minimum, 2 s:
///   libpq spends it on every host of a list in turn, so a hung server listed before the promoted
///   one costs each new session that long (a server that needs longer to accept a session needs a
///   higher value in the URL). Over unix sockets only (the embedded server, a local one) there is
///   no host to move on to, so a busy machine's slow backend start gets 5 s.
/// - `keepalives`, `keepalives_idle`, `keepalives_interval`, `keepalives_count` and
///   `tcp_user_timeout` are added only when at least one host is reached over TCP (libpq ignores
///   them on unix sockets); the `keepalives_*` tuning is left out when the user set `keepalives=0`.
/// - Nothing is added when a service file is named (`service=` or `PGSERVICE`): its settings
///   cannot be seen from here and an added value would override them
///   (`PostgresConfiguration.conninfoWarnings` says so).
/// - Key/value strings get ` key=value` appended; URLs get `?key=value` / `&key=value`.
public struct ConninfoDefaults: Sendable, Equatable {
    /// Seconds libpq waits for each host address before trying the next. Default 2 (libpq's
    /// minimum: a smaller value means 2).
    public var connectTimeoutSeconds = 2
    /// The same when every host is a unix socket. Default 5.
    public var socketConnectTimeoutSeconds = 5
    /// Seconds of silence before the first TCP keepalive probe. Default 5.
    public var keepalivesIdleSeconds = 5
    /// Seconds between unanswered keepalive probes. Default 2.
    public var keepalivesIntervalSeconds = 2
    /// Unanswered probes after which the connection is dead. Default 3.
    public var keepalivesCount = 3
    /// Milliseconds sent data may stay unacknowledged before the kernel drops the connection
    /// (`TCP_USER_TIMEOUT`). Default 10 000.
    public var tcpUserTimeoutMilliseconds = 10_000

    public init() {}

    /// `conninfo` with the missing settings added; unchanged when libpq cannot parse it (the
    /// connection attempt then reports the syntax error).
    public func apply(to conninfo: String, environment: [String: String]) -> String {
        guard let given = LibPQ.parseConninfo(conninfo) else { return conninfo }
        if given["service"] != nil || environment["PGSERVICE"] != nil { return conninfo }
        var added: [(String, String)] = []
        let usesTCP = ConninfoHosts(given: given, environment: environment).usesTCP
        if given["connect_timeout"] == nil, environment["PGCONNECT_TIMEOUT"] == nil {
            added.append(("connect_timeout", "\(usesTCP ? connectTimeoutSeconds : socketConnectTimeoutSeconds)"))
        }
        if usesTCP {
            let tcp = [
                ("keepalives", "1"),
                ("keepalives_idle", "\(keepalivesIdleSeconds)"),
                ("keepalives_interval", "\(keepalivesIntervalSeconds)"),
                ("keepalives_count", "\(keepalivesCount)"),
                ("tcp_user_timeout", "\(tcpUserTimeoutMilliseconds)"),
            ]
            let keepalivesOff = given["keepalives"] == "0"
            added += tcp.filter { key, _ in
                given[key] == nil && !(keepalivesOff && key.hasPrefix("keepalives_"))
            }
        }
        return Self.append(added, to: conninfo)
    }

    static func append(_ settings: [(String, String)], to conninfo: String) -> String {
        guard !settings.isEmpty else { return conninfo }
        if conninfo.hasPrefix("postgresql://") || conninfo.hasPrefix("postgres://") {
            let query = settings.map { "\($0)=\($1)" }.joined(separator: "&")
            return conninfo + (conninfo.contains("?") ? "&" : "?") + query
        }
        let pairs = settings.map { "\($0)=\($1)" }.joined(separator: " ")
        return conninfo.isEmpty ? pairs : conninfo + " " + pairs
    }
}

/// The hosts a conninfo names, from the string or else from `PGHOST` / `PGHOSTADDR`.
struct ConninfoHosts {
    /// One entry per host; empty means libpq's default (a unix socket).
    let hosts: [String]
    /// Set when `hostaddr` is given: every attempt is then TCP.
    let hasHostAddress: Bool

    init(given: [String: String], environment: [String: String]) {
        let host = given["host"] ?? environment["PGHOST"] ?? ""
        let address = given["hostaddr"] ?? environment["PGHOSTADDR"] ?? ""
        hasHostAddress = !address.isEmpty
        let hostList = host.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        let addressList = address.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        hosts = hostList.count >= addressList.count ? hostList : addressList
    }

    var count: Int { hosts.count }

    /// Whether any attempt goes over TCP (a name or address rather than a socket directory).
    var usesTCP: Bool {
        hasHostAddress || hosts.contains { !$0.isEmpty && !$0.hasPrefix("/") && !$0.hasPrefix("@") }
    }
}
