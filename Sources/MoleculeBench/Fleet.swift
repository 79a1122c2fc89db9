import EmbeddedPostgres
import Foundation
import Logging
import Postgres
import ReconcileStore

/// A benchmark fleet: a database of its own with `keys` keys, migrated and vacuumed.
struct Fleet {
    var configuration: PostgresConfiguration
    /// Setup statements (creating and vacuuming 100,000 keys on a busy machine can take
    /// longer than a reconcile's statement may).
    var setup: PostgresPool
    var keys: [String]

    static func create(
        database: String, keys count: Int, server: EmbeddedPostgres, profile: Bool, logger: Logger
    ) async throws -> Fleet {
        let admin = PostgresConnection(configuration: .init(conninfo: server.conninfo()))
        try await admin.query("DROP DATABASE IF EXISTS \(database)")
        try await admin.query("CREATE DATABASE \(database)")
        await admin.close()
        let configuration = PostgresConfiguration(conninfo: server.conninfo(database: database))
        var setupConfiguration = configuration
        setupConfiguration.statementTimeoutMilliseconds = 600_000
        let setup = PostgresPool(configuration: setupConfiguration, size: 2)
        try await Migrator(pool: setup, logger: logger).migrate()
        if profile { try await setup.query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements") }
        let started = ContinuousClock.now
        try await setup.query(
            "INSERT INTO workspaces (org, name, image) SELECT 'bench', 'w' || g, 'img' FROM generate_series(1, $1) g",
            [count])
        try await setup.query("VACUUM ANALYZE")
        print("fleet of \(count) keys created in \(format(ContinuousClock.now - started))")
        let keys = try await setup.query("SELECT key FROM instances ORDER BY key").rows.map {
            try $0.require(String.self, "key")
        }
        return Fleet(configuration: configuration, setup: setup, keys: keys)
    }
}
