import BenchSupport
import EmbeddedPostgres
import Foundation
import Logging
import Postgres
import ReconcileStore

/// The benchmark's own PostgreSQL 15 (fsync on, `pg_stat_statements` loaded), a migrated
/// database `fleet`, and one login role per controller so that `pg_stat_statements` (which
/// groups by role) attributes every statement to the controller that sent it. The roles are
/// superusers, as the embedded sidecar's `postgres` is.
struct FleetServer {
    /// The controllers' roles, by controller name.
    static let roles = ["instances": "fleet_instances", "secret_bundles": "fleet_bundles", "tunnel_ingress": "fleet_ingress"]
    static let database = "fleet"

    let embedded: EmbeddedPostgres
    let directory: String

    /// - Parameters:
    ///   - trackPlanning: `pg_stat_statements` also records planning time (costs a little).
    ///   - explainSlowerThan: milliseconds; statements slower than this (nested ones included) are
    ///     logged with their plan and timings by `auto_explain` (costs much: for profiling only).
    static func start(
        directory: String, port: Int, trackPlanning: Bool, explainSlowerThan: Int?,
        logger: Logger
    ) async throws -> FleetServer {
        var options = EmbeddedPostgres.Options(baseDirectory: directory)
        options.port = port
        options.fsync = true
        options.settings = [
            "shared_preload_libraries": explainSlowerThan == nil ? "pg_stat_statements" : "'pg_stat_statements,auto_explain'",
            // Nested statements too (triggers, functions), for the profile; the counts of round
            // trips read the top-level ones only.
            "pg_stat_statements.track": "all",
            "track_functions": "all",
            "pg_stat_statements.track_planning": trackPlanning ? "on" : "off",
            // So that a deadlock's report in the log names both statements whole, and their roles.
            "track_activity_query_size": "16384",
            "log_line_prefix": "'%m [%p] %u '",
        ]
        if let explainSlowerThan {
            options.settings.merge([
                "auto_explain.log_min_duration": "\(explainSlowerThan)", "auto_explain.log_analyze": "on",
                "auto_explain.log_nested_statements": "on", "auto_explain.log_triggers": "on",
            ]) { $1 }
        }
        let embedded = EmbeddedPostgres(options: options, logger: logger)
        try await embedded.startInBackground()
        let server = FleetServer(embedded: embedded, directory: directory)
        let admin = PostgresConnection(configuration: .init(conninfo: embedded.conninfo()))
        try await admin.query("DROP DATABASE IF EXISTS \(database)")
        try await admin.query("CREATE DATABASE \(database)")
        for role in roles.values.sorted() {
            try await admin.query("DROP ROLE IF EXISTS \(role)")
            try await admin.query("CREATE ROLE \(role) LOGIN SUPERUSER")
        }
        await admin.close()
        let setup = PostgresPool(configuration: server.configuration(), size: 1)
        try await setup.query("CREATE EXTENSION pg_stat_statements")
        try await Migrator(pool: setup, logger: logger).migrate()
        await setup.close()
        return server
    }

    /// The `fleet` database as `role` (default: `postgres`, the bench playing operator and platform).
    func configuration(role: String = "postgres") -> PostgresConfiguration {
        PostgresConfiguration(
            conninfo: "host=\(directory) port=\(embedded.options.port) user=\(role) dbname=\(Self.database)",
            applicationName: "molecule-fleet-bench")
    }

    /// The postmaster's process id (its children are the server's backends).
    var postmasterPID: Int32? { CPUUsage.postmaster(dataDirectory: embedded.dataDirectory) }

    /// Stops the server and removes its directory, keeping a copy of its log at `logCopy` if given.
    func stop(keepingLogAt logCopy: String?) {
        embedded.stop()
        if let logCopy {
            try? FileManager.default.removeItem(atPath: logCopy)
            try? FileManager.default.copyItem(
                atPath: (directory as NSString).appendingPathComponent("postgres.log"), toPath: logCopy)
        }
        try? FileManager.default.removeItem(atPath: directory)
    }
}
