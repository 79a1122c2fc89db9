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
            "Keys of a reference fleet in a second database on the same server, its runs alternating with the full fleet's, whose throughput the full fleet's is compared with (0: none)."
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
        throughput.lines().forEach { print($0) }
        if measured.count > 1, let reference = measured.first {
            print(
                "\n   the fleet's growth: \(referenceKeys) keys (a second database on the same server, its runs alternating with these)"
            )
            throughput.growthLines(from: reference, referenceKeys: referenceKeys, keys: keys).forEach { print($0) }
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

    /// Bumps every key and times until the no-op controller has reconciled all of them; with a
    /// postmaster (`--profile`), also what the phase cost per reconcile.
    func measureRuntime(
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
