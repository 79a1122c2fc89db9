import Postgres
import Testing

@Suite("conninfo defaults")
struct ConninfoDefaultsTests {
    static let tcp = "keepalives=1 keepalives_idle=5 keepalives_interval=2 keepalives_count=3 tcp_user_timeout=10000"
    static let tcpQuery = "keepalives=1&keepalives_idle=5&keepalives_interval=2&keepalives_count=3&tcp_user_timeout=10000"

    struct Case: Sendable, CustomTestStringConvertible {
        let given: String
        var environment: [String: String] = [:]
        let expected: String
        var testDescription: String { "\(given.isEmpty ? "(empty)" : given) \(environment)" }
    }

    @Test(
        "missing timeouts and keepalives are added, what the user set is kept",
        arguments: [
            // key/value, one TCP host
            Case(
                given: "host=db.example.com dbname=app",
                expected: "host=db.example.com dbname=app connect_timeout=2 \(tcp)"),
            // a unix socket: connect_timeout only
            Case(
                given: "host=/tmp/pg port=5433 user=postgres dbname=app",
                expected: "host=/tmp/pg port=5433 user=postgres dbname=app connect_timeout=5"),
            // user-set values win; keepalives_* tuning is left out when keepalives are off
            Case(
                given: "host=db connect_timeout = 10 keepalives_idle=30 tcp_user_timeout=0",
                expected:
                    "host=db connect_timeout = 10 keepalives_idle=30 tcp_user_timeout=0 keepalives=1 keepalives_interval=2 keepalives_count=3"
            ),
            Case(given: "host=db keepalives=0", expected: "host=db keepalives=0 connect_timeout=2 tcp_user_timeout=10000"),
            // URLs: multi-host with and without a query, with user-set values
            Case(
                given: "postgresql://u:p@h1:5432,h2:5433/app?target_session_attrs=read-write",
                expected: "postgresql://u:p@h1:5432,h2:5433/app?target_session_attrs=read-write&connect_timeout=2&\(tcpQuery)"),
            Case(given: "postgres://h1,h2/app", expected: "postgres://h1,h2/app?connect_timeout=2&\(tcpQuery)"),
            Case(
                given:
                    "postgresql://[::1]:5432/app?connect_timeout=2&keepalives=1&keepalives_idle=1&keepalives_interval=1&keepalives_count=1&tcp_user_timeout=1",
                expected:
                    "postgresql://[::1]:5432/app?connect_timeout=2&keepalives=1&keepalives_idle=1&keepalives_interval=1&keepalives_count=1&tcp_user_timeout=1"
            ),
            Case(
                given: "postgresql:///app?host=/var/run/postgresql",
                expected: "postgresql:///app?host=/var/run/postgresql&connect_timeout=5"),
            // a socket and a TCP host: the TCP settings apply to the TCP attempt
            Case(given: "host=/tmp,db2", expected: "host=/tmp,db2 connect_timeout=2 \(tcp)"),
            Case(given: "hostaddr=10.0.0.1 dbname=app", expected: "hostaddr=10.0.0.1 dbname=app connect_timeout=2 \(tcp)"),
            // empty: libpq's PG* variables decide; those that exist are respected
            Case(given: "", expected: "connect_timeout=2"),
            Case(given: "", environment: ["PGHOST": "db1,db2"], expected: "connect_timeout=2 \(tcp)"),
            Case(given: "", environment: ["PGHOST": "db1", "PGCONNECT_TIMEOUT": "9"], expected: tcp),
            Case(given: "dbname=app", environment: ["PGHOST": "/tmp", "PGCONNECT_TIMEOUT": "9"], expected: "dbname=app"),
            // a service file's settings are not visible from here: nothing is added
            Case(given: "service=prod", expected: "service=prod"),
            Case(given: "dbname=app", environment: ["PGSERVICE": "prod"], expected: "dbname=app"),
            // not parseable: unchanged, the connection attempt reports it
            Case(given: "host='unterminated", expected: "host='unterminated"),
        ])
    func defaults(_ example: Case) {
        let configuration = PostgresConfiguration(conninfo: example.given)
        #expect(configuration.conninfoWithDefaults(environment: example.environment) == example.expected)
    }

    @Test("the defaults themselves are configurable")
    func configurableDefaults() {
        var defaults = ConninfoDefaults()
        defaults.connectTimeoutSeconds = 3
        defaults.tcpUserTimeoutMilliseconds = 4_000
        let configuration = PostgresConfiguration(conninfo: "host=db keepalives=0", conninfoDefaults: defaults)
        #expect(
            configuration.conninfoWithDefaults(environment: [:]) == "host=db keepalives=0 connect_timeout=3 tcp_user_timeout=4000"
        )
    }

    @Test(
        "several hosts without target_session_attrs are warned about",
        arguments: [
            ("postgresql://h1,h2/app", [String: String](), true),
            ("host=h1,h2 port=5432,5433", [:], true),
            ("", ["PGHOST": "h1,h2"], true),
            ("postgresql://h1,h2/app?target_session_attrs=read-write", [:], false),
            ("host=h1,h2", ["PGTARGETSESSIONATTRS": "read-write"], false),
            ("host=h1", [:], false),
            ("", [:], false),
        ])
    func multiHostWarning(conninfo: String, environment: [String: String], warned: Bool) {
        let warnings = PostgresConfiguration(conninfo: conninfo).conninfoWarnings(environment: environment)
        #expect(warnings.contains { $0.contains("target_session_attrs=read-write") } == warned)
    }
}
