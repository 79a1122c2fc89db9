import ArgumentParser
import ControllerHost
import Foundation
import HealthServer
import Logging
import Metrics
import Postgres
import Prometheus
import ReconcileStore
import ServiceLifecycle

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the sidecar: every controller, plus /healthz, /readyz and /metrics.")

    @OptionGroup var global: GlobalOptions

    @OptionGroup(title: "Providers") var providers: ProviderOptions

    @Option(help: "Address of the health and metrics endpoints.")
    var httpHost = "127.0.0.1"

    @Option(help: "Port of the health and metrics endpoints.")
    var httpPort = 9090

    @Flag(inversion: .prefixedNo, help: "Apply missing migrations before starting (always on with the embedded database).")
    var migrate = false

    @Flag(inversion: .prefixedNo, help: "Load manifests/example/fleet.sql into an empty embedded database.")
    var exampleFleet = true

    @Option(help: "Connections in the pool.")
    var poolSize = 8

    @Option(help: "Seconds in-flight reconciles may take after SIGTERM before they are abandoned.")
    var shutdownDeadline = 10

    @Option(help: "Seconds between sweeps for orphans (instances whose workspace row is gone).")
    var sweepInterval = 60

    func run() async throws {
        try await serve()
    }

    /// The sidecar; `demo` runs it too, with `started` (the database ready, the example fleet
    /// loaded, the controllers built, just before they run) and `stopped` (after a graceful
    /// stop, before an embedded server this process started is stopped).
    func serve(
        started: (DatabaseTarget) -> Void = { _ in },
        stopped: (Controllers, Logger) async -> Void = { _, _ in }
    ) async throws {
        let registry = MetricsBootstrap.bootstrap()
        try await global.withDatabase(poolSize: poolSize, schema: .migrateIfEmbedded(force: migrate), startsEmbedded: true) {
            owner, target, logger in
            if exampleFleet, target.embedded != nil {
                try await ExampleFleet.loadIfEmpty(owner, logger: logger)
            }
            // On the embedded default the controllers run as a login in the reconciler role only,
            // not as the superuser that migrated; a configured database is used as it is.
            let pool = target.embedded == nil ? owner : try await Self.sidecarPool(owner: owner, size: poolSize)
            if pool !== owner { await owner.close() }
            try await PrivilegeCheck(pool: pool).enforce(logger: logger)
            let set = try await Controllers.make(pool: pool, global: global, providers: providers, logger: logger)
            let host = ReconcilerHost(
                pool: pool, controllers: set.controllers, sweepers: set.sweepers,
                sweepInterval: .seconds(max(1, sweepInterval)), refreshers: set.refreshers,
                shutdownDeadline: .seconds(shutdownDeadline), logger: logger)
            let readiness = ReadinessMonitor(
                configuration: pool.configuration,
                listenerHealth: { host.listenerHealth }, logger: logger)
            let health = HealthServer.make(
                host: httpHost, port: httpPort, registry: registry,
                readiness: readiness.notReadyReason, version: MetricsBootstrap.version, logger: logger)
            if let embedded = target.embedded {
                logger.info(
                    "using the embedded PostgreSQL; connect with psql",
                    metadata: ["psql": "psql '\(embedded.conninfo(database: "molecule"))'"])
            }
            let group = ServiceGroup(
                configuration: .init(
                    services: [.init(service: host), .init(service: health), .init(service: readiness)],
                    gracefulShutdownSignals: [.sigterm, .sigint],
                    logger: logger))
            started(target)
            try await group.run()
            await stopped(set, logger)
        }
    }

    /// A pool on the same database as `owner`, logged in as the embedded server's sidecar login.
    static func sidecarPool(owner: PostgresPool, size: Int) async throws -> PostgresPool {
        let login = try await SidecarLogin.ensure(owner: owner)
        var configuration = owner.configuration
        configuration.conninfo += " user=\(login)"
        return PostgresPool(configuration: configuration, size: size)
    }
}
