import ArgumentParser
import BenchSupport
import ControllerHost
import EmbeddedPostgres
import Foundation
import Logging
import Postgres
import ReconcileRuntime
import ReconcileStore

/// Prints the runtime's figures beside a baseline measured in the same run against the same
/// server. It is a measurement, not a test: it never fails on a slow machine.
@main
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "molecule-bench",
        abstract: "Measure the reconcile runtime with a no-op controller against an embedded PostgreSQL (fsync on).")

    @Option(help: "Keys in the fleet (use 100000 for the full-size figures).")
    var keys = 10_000

    @Option(help: "Keys each worker claims and writes per round trip.")
    var batchSize = 64

    @Option(help: "UPDATEs timed for the update-to-reconcile latency.")
    var latencySamples = 300

    @Option(help: "Seconds of idle time over which CPU use is measured.")
    var idleSeconds = 10

    @Flag(
        help:
            "Also print, for each throughput phase, CPU per 1,000 reconciles (this process and the server) and the statements' calls and buffer pages per call (loads pg_stat_statements)."
    )
    var profile = false

    @Flag(
        inversion: .prefixedNo,
        help: "Measure the direct-SQL baseline beside each throughput phase (--no-baseline: faster profiling runs).")
    var baseline = true

    @Option(
        help:
            "A smaller fleet measured first in the same run, on the same server, whose throughput the full fleet's is compared with (0: none)."
    )
    var referenceKeys = 20_000

    @Option(help: "Runs of each throughput phase; the median is reported.")
    var repeats = 3

    @Option(help: "Directory of the benchmark's PostgreSQL (removed afterwards).")
    var directory = "/tmp/molecule-bench-\(getpid())"

    func run() async throws {
        let logger = Logger(label: "bench")
        var options = EmbeddedPostgres.Options(baseDirectory: directory)
        options.port = 5434
        options.fsync = true
        if profile {
            options.settings = ["shared_preload_libraries": "pg_stat_statements", "pg_stat_statements.track": "all"]
        }
        let server = EmbeddedPostgres(options: options, logger: logger)
        try await server.startInBackground()
        defer {
            server.stop()
            try? FileManager.default.removeItem(atPath: directory)
        }
        let postmaster = CPUUsage.postmaster(dataDirectory: server.dataDirectory)
        print(
            "molecule-bench: \(keys) keys, batch \(batchSize), PostgreSQL 15 with fsync on, \(ProcessInfo.processInfo.activeProcessorCount) cores"
        )
        let full = try await Fleet.create(database: "bench", keys: keys, server: server, profile: profile, logger: logger)
        let configuration = full.configuration
        var fleets = [full]
        if referenceKeys > 0, referenceKeys < keys {
            fleets.insert(
                try await Fleet.create(
                    database: "bench_reference", keys: referenceKeys, server: server, profile: false, logger: logger), at: 0)
        }
        // The memory figure below is that of the throughput phases on.
        CPUUsage.resetPeakRSS()
        let measured = try await measureThroughput(fleets, postmaster: profile ? postmaster : nil, logger: logger)
        let throughput = measured[measured.count - 1]
        print("\n1. throughput (reconciles/s: watch + queue + lease + fenced status write; median of \(repeats) runs)")
        print("   workers   runtime (runs)                direct-SQL baseline   ratio")
        for row in throughput.rows {
            let runs = row.runs.map { String(format: "%.0f", $0) }.joined(separator: ", ")
            print(
                String(format: "   %7d   %7.0f", row.workers, row.runtime)
                    + " (\(runs))".padding(toLength: 23, withPad: " ", startingAt: 0)
                    + String(format: "   %7.0f   %5.2fx", row.baseline, row.runtime / row.baseline))
        }
        if measured.count > 1, let reference = measured.first {
            print(
                "\n   the fleet's growth: \(referenceKeys) keys (a second database on the same server, its runs alternating with these)"
            )
            print(
                "   workers   \(referenceKeys) keys (runs)".padding(toLength: 43, withPad: " ", startingAt: 0)
                    + "\(keys) keys   rate kept")
            for (small, large) in zip(reference.rows, throughput.rows) {
                let runs = small.runs.map { String(format: "%.0f", $0) }.joined(separator: ", ")
                print(
                    String(format: "   %7d   %7.0f", small.workers, small.runtime)
                        + " (\(runs))".padding(toLength: 23, withPad: " ", startingAt: 0)
                        + String(format: "   %7.0f   %8.0f %%", large.runtime, large.runtime / small.runtime * 100))
            }
        }
        for row in throughput.rows {
            guard let profile = row.profile else { continue }
            print("\n   profile of the last runtime phase, \(row.workers) worker(s):")
            profile.lines().forEach { print($0) }
        }

        let latency = try await measureLatency(configuration: configuration, logger: logger)
        print(
            "\n2. UPDATE commit -> reconcile start (\(latency.count) samples): p50 \(ms(percentile(latency, 0.5))), p99 \(ms(percentile(latency, 0.99))), max \(ms(latency.max() ?? 0))"
        )

        let (resync, fullScan, idleCPU) = try await measureResyncAndIdle(configuration: configuration, logger: logger)
        print(
            "\n3. resync over \(keys) converged keys: due-key resync \(ms(resync)); paging every key (full resync's reads) \(ms(fullScan))"
        )
        print(String(format: "   reconciler CPU while idle: %.2f %% of one core over %d s", idleCPU * 100, idleSeconds))
        print(
            String(
                format: "\n4. peak resident memory (whole bench process, from the throughput phases on): %.1f MB",
                Double(peakRSSKilobytes()) / 1024))
        for fleet in fleets { await fleet.setup.close() }
    }

    /// A database of its own with `keys` keys, migrated and vacuumed.
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

    struct Throughput {
        struct Row {
            var workers: Int
            var runtime: Double
            var runs: [Double]
            var baseline: Double
            var profile: RuntimeProfile?
        }
        var rows: [Row] = []
    }

    /// For 1 and 4 workers: each fleet's baseline once, then the runtime `repeats` times on
    /// each fleet, the fleets' runs alternating (so the machine's slow minutes fall on both),
    /// each run starting from a vacuumed table (no dead rows left by the previous run); the
    /// medians. The last fleet's last run is profiled.
    private func measureThroughput(_ fleets: [Fleet], postmaster: Int32?, logger: Logger) async throws -> [Throughput] {
        var results = fleets.map { _ in Throughput() }
        for workers in [1, 4] {
            var baselines: [Double] = []
            for fleet in fleets {
                baselines.append(
                    baseline
                        ? try await Baseline(configuration: fleet.configuration, keys: fleet.keys, clients: workers).run() : .nan)
            }
            var runs = fleets.map { _ in [Double]() }
            var profile: RuntimeProfile?
            for run in 1...max(1, repeats) {
                for (index, fleet) in fleets.enumerated() {
                    try await fleet.setup.query("VACUUM instances, leases")
                    let profiled = run == max(1, repeats) && index == fleets.count - 1
                    let (rate, phase) = try await measureRuntime(
                        configuration: fleet.configuration, workers: workers, keys: fleet.keys.count,
                        postmaster: profiled ? postmaster : nil, logger: logger)
                    runs[index].append(rate)
                    if profiled { profile = phase }
                    // A sidecar runs one host for its life; each run here starts and stops one,
                    // and the allocator would otherwise keep every run's freed memory resident.
                    CPUUsage.returnFreedMemory()
                }
            }
            for index in fleets.indices {
                results[index].rows.append(
                    .init(
                        workers: workers, runtime: runs[index].sorted()[runs[index].count / 2], runs: runs[index],
                        baseline: baselines[index], profile: index == fleets.count - 1 ? profile : nil))
            }
        }
        return results
    }

    /// Bumps every key and times until the no-op controller has reconciled all of them; with a
    /// postmaster (`--profile`), also what the phase cost per reconcile.
    private func measureRuntime(
        configuration: PostgresConfiguration, workers: Int, keys: Int, postmaster: Int32?, logger: Logger
    ) async throws -> (Double, RuntimeProfile?) {
        let pool = PostgresPool(configuration: configuration, size: workers + 2)
        let reconciler = CountingReconciler()
        var options = ControllerOptions()
        options.workers = workers
        options.batchSize = batchSize
        options.fullResyncInterval = .seconds(3_600)
        options.fullResyncAtStart = false
        let host = ReconcilerHost(pool: pool, controllers: [.init(reconciler, options: options)], logger: logger)
        let running = Task { try await host.run() }
        // Wait for the start-up resync to settle whatever the previous phase left.
        try await waitConverged(pool)
        let target = reconciler.count + keys
        var cpuStart: RuntimeProfile.Start?
        if let postmaster { cpuStart = try await RuntimeProfile.begin(pool, postmaster: postmaster) }
        let started = ContinuousClock.now
        try await pool.query("SELECT molecule_bump('instances', ARRAY(SELECT key FROM instances))")
        await reconciler.wait(untilCount: target)
        try await waitConverged(pool)
        let elapsed = ContinuousClock.now - started
        var phase: RuntimeProfile?
        if let cpuStart { phase = try await RuntimeProfile.end(pool, postmaster: postmaster, since: cpuStart, keys: keys) }
        running.cancel()
        try await running.value
        await pool.close()
        return (Double(keys) / elapsed.secondsValue, phase)
    }

    private func measureLatency(configuration: PostgresConfiguration, logger: Logger) async throws -> [Double] {
        let pool = PostgresPool(configuration: configuration, size: 6)
        let reconciler = CountingReconciler()
        var options = ControllerOptions()
        options.workers = 4
        options.batchSize = batchSize
        options.fullResyncAtStart = false
        let host = ReconcilerHost(pool: pool, controllers: [.init(reconciler, options: options)], logger: logger)
        let running = Task { try await host.run() }
        try await waitConverged(pool)
        let writer = PostgresConnection(configuration: configuration)
        let ids = try await writer.query("SELECT id FROM workspaces ORDER BY random() LIMIT $1", [latencySamples]).rows
            .map { try $0.require(String.self, "id") }
        var samples: [Double] = []
        for id in ids {
            let starts = reconciler.expect(id)
            try await writer.query("UPDATE workspaces SET restart_requests = restart_requests + 1 WHERE id = $1::uuid", [id])
            let committed = ContinuousClock.now
            let start = await starts.value
            samples.append(max(0, (start - committed).secondsValue))
            try await Task.sleep(for: .milliseconds(5))
        }
        running.cancel()
        try await running.value
        await pool.close()
        return samples.sorted()
    }

    private func measureResyncAndIdle(configuration: PostgresConfiguration, logger: Logger) async throws -> (
        Double, Double, Double
    ) {
        let pool = PostgresPool(configuration: configuration, size: 4)
        let store = ControllerStateStore(table: ControllerTable("instances"), pool: pool)
        try await waitConverged(pool)
        let resyncStart = ContinuousClock.now
        let pending = try await store.selectPending()
        let resync = (ContinuousClock.now - resyncStart).secondsValue
        precondition(pending.isEmpty, "the fleet should be converged")
        let scanStart = ContinuousClock.now
        var last: String?
        while let page = Optional(try await store.selectKeys(after: last, limit: 500)), !page.isEmpty { last = page.last }
        let fullScan = (ContinuousClock.now - scanStart).secondsValue

        // Idle means no work: the start-up full resync (which would re-examine every key) is off.
        var idleOptions = ControllerOptions()
        idleOptions.fullResyncAtStart = false
        let host = ReconcilerHost(pool: pool, controllers: [.init(CountingReconciler(), options: idleOptions)], logger: logger)
        let running = Task { try await host.run() }
        try await Task.sleep(for: .seconds(3))
        let cpuBefore = cpuSeconds()
        let wallBefore = ContinuousClock.now
        try await Task.sleep(for: .seconds(idleSeconds))
        let idle = (cpuSeconds() - cpuBefore) / (ContinuousClock.now - wallBefore).secondsValue
        running.cancel()
        try await running.value
        await pool.close()
        return (resync, fullScan, idle)
    }

    private func waitConverged(_ pool: PostgresPool) async throws {
        while try await pool.query(
            """
            SELECT count(*) AS n FROM instances WHERE desired_generation <> observed_generation
            """
        ).rows[0].require(Int.self, "n") > 0 {
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}
