import Foundation

extension PostgresConfiguration {
    /// The conninfo every connection of this process uses: `conninfo` with `conninfoDefaults`
    /// added where the user set nothing.
    public func conninfoWithDefaults(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        conninfoDefaults.apply(to: conninfo, environment: environment)
    }

    /// What an operator should fix in the conninfo before relying on it for failover, one
    /// sentence each (empty when nothing): for the CLI to log at start.
    public func conninfoWarnings(environment: [String: String] = ProcessInfo.processInfo.environment) -> [String] {
        guard let given = LibPQ.parseConninfo(conninfo) else { return [] }
        var warnings: [String] = []
        let hosts = ConninfoHosts(given: given, environment: environment)
        if hosts.count > 1, given["target_session_attrs"] == nil, environment["PGTARGETSESSIONATTRS"] == nil {
            warnings.append(
                """
                the database connection names \(hosts.count) hosts but no target_session_attrs: libpq may \
                connect to a standby and every write would fail; add target_session_attrs=read-write
                """)
        }
        if given["service"] != nil || environment["PGSERVICE"] != nil {
            warnings.append(
                """
                the database connection uses a service file, whose settings are not inspected: make sure \
                it sets connect_timeout, and for TCP keepalives and tcp_user_timeout
                """)
        }
        return warnings
    }
}
