import EmbeddedPostgres
import Foundation
import Logging
import Postgres
import ReconcileStore

/// The database a command talks to: the one configured, or an embedded server started for it.
struct DatabaseTarget {
    let configuration: PostgresConfiguration
    /// Set when this process uses an embedded server.
    let embedded: EmbeddedPostgres?
    /// Whether this process started that server (and so stops it when it is done); a server
    /// adopted from another process (a running sidecar) is left running.
    var ownsEmbedded = false

    /// `--database-url`, then `DATABASE_URL`, then libpq's own `PG*` variables; with none of
    /// them (or with `--embedded`), an embedded server: started when `startsEmbedded` (`run`),
    /// otherwise only one already running is used, and its absence is a clear error.
    static func resolve(_ options: GlobalOptions, startsEmbedded: Bool, logger: Logger) async throws -> DatabaseTarget {
        let environment = ProcessInfo.processInfo.environment
        if !options.embedded {
            if let url = options.databaseURL ?? environment["DATABASE_URL"], !url.isEmpty {
                return DatabaseTarget(configuration: .init(conninfo: url), embedded: nil)
            }
            let libpqVariables = ["PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGSERVICE", "PGUSER"]
            if libpqVariables.contains(where: { environment[$0] != nil }) {
                return DatabaseTarget(configuration: .init(conninfo: ""), embedded: nil)
            }
        }
        let server = EmbeddedPostgres(
            options: .init(baseDirectory: options.embeddedDir ?? EmbeddedPostgres.defaultBaseDirectory),
            logger: logger)
        guard startsEmbedded || server.isRunning() else {
            throw CommandFailure.Message(
                text:
                    "no database configured (--database-url, DATABASE_URL and PGHOST/PGPORT/... are unset) and no embedded PostgreSQL runs in \(server.options.baseDirectory); start one with `molecule-reconciler run`, or pass --database-url"
            )
        }
        let started = startsEmbedded ? try await server.startInBackground() : false
        let admin = PostgresConnection(configuration: .init(conninfo: server.conninfo()))
        let exists = { try await admin.query("SELECT 1 FROM pg_database WHERE datname = 'molecule'").rows.isEmpty == false }
        if try await !exists() {
            do {
                try await admin.query("CREATE DATABASE molecule")
            } catch {
                // Another command (a `demo` starting, a `wait` beside it) created it first:
                // 42P04, or 23505 when both inserted into pg_database at once.
                guard try await exists() else { throw error }
            }
        }
        await admin.close()
        return DatabaseTarget(
            configuration: .init(conninfo: server.conninfo(database: "molecule")), embedded: server,
            ownsEmbedded: started)
    }

    /// Stops the embedded server if this process started it.
    func finish() {
        if ownsEmbedded { embedded?.stop() }
    }
}

/// What a command does with the schema before it starts.
enum SchemaCheck {
    /// The command manages the schema itself (`migrate`).
    case none
    /// Refuse a schema that is too old, or newer than this binary.
    case verify
    /// Apply missing migrations on the embedded database (or when `force`), verify otherwise.
    case migrateIfEmbedded(force: Bool)
}

extension GlobalOptions {
    /// The common frame of every command: logging, the database (embedded if none is
    /// configured, stopped afterwards if this process started it), the schema check, and one
    /// clear line instead of a stack dump for the errors people meet.
    func withDatabase(
        poolSize: Int, schema: SchemaCheck, startsEmbedded: Bool = false,
        _ body: (PostgresPool, DatabaseTarget, Logger) async throws -> Void
    ) async throws {
        bootstrapLogging()
        let logger = Logger(label: "molecule-reconciler")
        try await CommandFailure.report {
            let target = try await DatabaseTarget.resolve(self, startsEmbedded: startsEmbedded, logger: logger)
            defer { target.finish() }
            for warning in target.configuration.conninfoWarnings() {
                logger.warning(
                    "the database connection settings do not support failover well", metadata: ["advice": "\(warning)"])
            }
            let pool = PostgresPool(configuration: target.configuration, size: poolSize)
            let migrator = try Migrator(pool: pool, logger: logger)
            switch schema {
            case .none:
                break
            case .verify:
                try await migrator.verify()
            case .migrateIfEmbedded(let force):
                if force || target.embedded != nil { try await migrator.migrate() } else { try await migrator.verify() }
            }
            try await body(pool, target, logger)
        }
    }
}
