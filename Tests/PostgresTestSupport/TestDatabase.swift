import EmbeddedPostgres
import Foundation
import Logging
import Postgres
import ReconcileStore

/// One embedded PostgreSQL per test process, and a fresh database for each caller, cloned from
/// a migrated template (fast: a file copy, not a migration run). The server is stopped and its
/// directory removed when the process exits.
public enum TestDatabase {
    /// A new, migrated, empty database. `size` is the pool's connection count.
    public static func create(poolSize: Int = 4) async throws -> PostgresPool {
        let configuration = try await TestServer.shared.createDatabase()
        // A suite of ~100 parameterised cases on one small pool, on two loaded cores, may queue
        // longer than production's 30 s: a test asserts what its statements answer, not that.
        return PostgresPool(configuration: configuration, size: poolSize, checkoutDeadline: .seconds(180))
    }

    /// A new database with no schema at all; returns its conninfo.
    public static func createEmpty() async throws -> String {
        try await TestServer.shared.createDatabase(template: "template0").conninfo
    }

    /// Everything the test server has logged so far (errors with their DETAIL and statement).
    public static func serverLog() async throws -> String {
        try await TestServer.shared.log()
    }

    /// A connection to the server's `postgres` database, for statements that cannot run in the
    /// database under test (e.g. `ALTER DATABASE ... ALLOW_CONNECTIONS`).
    public static func admin() async throws -> PostgresConnection {
        PostgresConnection(configuration: try await TestServer.shared.adminConfiguration())
    }

    public static let logger: Logger = {
        var logger = Logger(label: "test")
        logger.logLevel =
            ProcessInfo.processInfo.environment["TEST_LOG_LEVEL"].flatMap { Logger.Level(rawValue: $0) } ?? .critical
        return logger
    }()
}

actor TestServer {
    static let shared = TestServer()

    /// Started once; every caller awaits the same start (actor methods are re-entrant).
    private var ready: Task<EmbeddedPostgres, Error>?
    private var counter = 0

    func createDatabase(template: String = "molecule_template") async throws -> PostgresConfiguration {
        let server = try await server()
        counter += 1
        let name = "test_\(counter)"
        let admin = PostgresConnection(configuration: .init(conninfo: server.conninfo() + Self.patientConnect))
        try await admin.query("CREATE DATABASE \(name) TEMPLATE \(template)")
        await admin.close()
        return PostgresConfiguration(conninfo: server.conninfo(database: name) + Self.patientConnect)
    }

    /// The whole suite runs in parallel on two cores (sidecars, chaos replicas, runtimes): a new
    /// session may wait for the server longer than the sidecar's 2 s default connect_timeout.
    static let patientConnect = " connect_timeout=60"

    func log() async throws -> String {
        try String(contentsOfFile: try await server().logFile, encoding: .utf8)
    }

    func adminConfiguration() async throws -> PostgresConfiguration {
        PostgresConfiguration(conninfo: try await server().conninfo() + Self.patientConnect)
    }

    private func server() async throws -> EmbeddedPostgres {
        if let ready { return try await ready.value }
        let task = Task { try await Self.startAndPrepareTemplate() }
        ready = task
        return try await task.value
    }

    private static func startAndPrepareTemplate() async throws -> EmbeddedPostgres {
        removeAbandonedServers()
        let base = "/tmp/molecule-test-\(getpid())"
        var options = EmbeddedPostgres.Options(baseDirectory: base)
        options.port = 5433
        options.fsync = false
        // Every test's pools, listeners and sidecar replicas at once.
        options.settings["max_connections"] = "600"
        let server = EmbeddedPostgres(options: options, logger: TestDatabase.logger)
        try await server.startInBackground()
        TestServerShutdown.register(server: server, directory: base)
        let admin = PostgresConnection(configuration: .init(conninfo: server.conninfo()))
        try await admin.query("CREATE DATABASE molecule_template")
        await admin.close()
        let template = PostgresPool(configuration: .init(conninfo: server.conninfo(database: "molecule_template")), size: 1)
        try await Migrator(pool: template, logger: TestDatabase.logger).migrate()
        await template.close()
        return server
    }
}

extension TestServer {
    /// Stops servers left by test processes that were killed before their exit handler ran.
    static func removeAbandonedServers() {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/tmp")) ?? []
        for entry in entries where entry.hasPrefix("molecule-test-") {
            guard let pid = Int32(entry.dropFirst("molecule-test-".count)), kill(pid, 0) != 0 else { continue }
            let server = EmbeddedPostgres(options: .init(baseDirectory: "/tmp/\(entry)"), logger: TestDatabase.logger)
            server.stop()
            try? FileManager.default.removeItem(atPath: "/tmp/\(entry)")
        }
    }
}

/// Stops the server at process exit (atexit takes a C function, hence the global).
enum TestServerShutdown {
    nonisolated(unsafe) private static var server: EmbeddedPostgres?
    nonisolated(unsafe) private static var directory: String?

    static func register(server: EmbeddedPostgres, directory: String) {
        Self.server = server
        Self.directory = directory
        atexit {
            TestServerShutdown.server?.stop()
            if let directory = TestServerShutdown.directory {
                try? FileManager.default.removeItem(atPath: directory)
            }
        }
    }
}
