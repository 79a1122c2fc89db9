import ArgumentParser
import Foundation
import Logging
import Postgres
import ReconcileRuntime

/// The real controllers as users run them — each in a sidecar host (LISTEN/NOTIFY, resyncs,
/// workers) — against in-memory providers with no latency, on an embedded PostgreSQL with fsync
/// on. Prints one line per figure with its target beside it. A measurement, not a test: it
/// never fails on a slow machine.
@main
struct FleetBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "molecule-fleet-bench",
        abstract:
            "Measure the real controllers over a fleet (fake providers, no latency) against an embedded PostgreSQL (fsync on).")

    @Option(help: "Workspaces in the fleet, all in one org (0 skips figures 1 and 2).")
    var workspaces = 10_000

    @Option(help: "Tenants whose ingress a platform path reaches (0 skips figure 3).")
    var tenants = 1_000

    @Option(help: "Tunnels the tenants share, round-robin.")
    var tunnels = 100

    @Option(help: "Workers of each controller.")
    var workers = 4

    @Option(help: "Keys each worker claims, reconciles and writes back per round trip.")
    var batchSize = 64

    @Option(help: "Connections of each controller's pool (molecule-reconciler run uses 8).")
    var poolSize = 8

    @Option(help: "Milliseconds between the platform's heartbeat statements.")
    var heartbeatInterval = 200

    @Option(help: "Seconds each figure may take before it is reported as not reached.")
    var timeout = 600

    @Option(help: "Statements with the most server time listed per phase.")
    var top = 3

    @Flag(help: "Also record planning time in pg_stat_statements (costs a little).")
    var trackPlanning = false

    @Option(
        help:
            "Log the plan and timings of statements slower than this many milliseconds (auto_explain; profiling only, slows every statement)."
    )
    var explainSlowerThan: Int?

    @Option(help: "PostgreSQL socket port (no TCP port is opened).")
    var port = 5435

    @Option(help: "Where to keep a copy of the server's log (deadlocks and errors are described there).")
    var serverLog: String?

    @Option(help: "Directory of the benchmark's PostgreSQL (removed afterwards).")
    var directory = "/tmp/molecule-fleet-bench-\(getpid())"

    func run() async throws {
        let logs = LogTally()
        let logger = logs.logger(label: "fleet-bench")
        let server = try await FleetServer.start(
            directory: directory, port: port, trackPlanning: trackPlanning,
            explainSlowerThan: explainSlowerThan, logger: logger)
        defer { server.stop(keepingLogAt: serverLog) }
        let admin = PostgresConnection(configuration: server.configuration())
        let world = FleetWorld(connection: admin)
        let waits = WaitSampler(configuration: server.configuration())
        waits.start()
        try await world.seed()
        var options = ControllerOptions()
        options.workers = workers
        options.batchSize = batchSize
        let providers = BenchController.FakeProviders()
        let fleet = FleetRun(
            bench: self, world: world,
            instruments: .init(
                stats: StatementStats(connection: admin), logs: logs, waits: waits, postmaster: server.postmasterPID,
                top: top),
            heartbeats: HeartbeatPlayer(configuration: server.configuration(), interval: .milliseconds(heartbeatInterval)),
            providers: providers,
            instances: .instances(providers, server: server, options: options, poolSize: poolSize),
            bundles: .secretBundles(providers, server: server, options: options, poolSize: poolSize),
            ingress: .tunnelIngress(providers, server: server, options: options, poolSize: poolSize), logger: logger)

        print(
            "molecule-fleet-bench: \(workspaces) workspaces in one org, \(tenants) tenants on shared tunnels "
                + "(\(tunnels) at most, round-robin); PostgreSQL 15 with fsync on, "
                + "\(ProcessInfo.processInfo.activeProcessorCount) cores")
        print(
            "   each controller in its own ReconcilerHost (LISTEN/NOTIFY, resyncs, workers) and pool under its own role: "
                + "\(workers) workers, batch \(batchSize), pool \(poolSize); instances in heartbeat mode (no probe), default "
                + "RestartPacer; providers FakeCloud, FakeSecretStore, FakeTunnels (no latency, no faults); tunnel limiter off "
                + "(rate 1e9/s, burst 1,000,000); the platform reports heartbeats every \(heartbeatInterval) ms in one statement")
        fflush(nil)
        try await fleet.run()
        await waits.stop()
        await admin.close()
    }
}
