import BenchSupport
import Foundation
import Logging

/// The runtime's throughput phases: per worker count, one rate (the median of the runs) per
/// fleet.
struct Throughput {
    struct Row {
        var workers: Int
        var runtime: Double
        var runs: [Double]
        var baseline: Double
        var profile: RuntimeProfile?
    }
    var rows: [Row] = []

    /// Per worker count: the median, the runs, the baseline and the ratio to it.
    func lines() -> [String] {
        ["   workers   runtime (runs)                direct-SQL baseline   ratio"]
            + rows.map { row in
                String(format: "   %7d   %7.0f", row.workers, row.runtime) + Self.runs(row)
                    + String(format: "   %7.0f   %5.2fx", row.baseline, row.runtime / row.baseline)
            }
    }

    /// Per worker count: the reference fleet's median and runs, this fleet's median, and the
    /// share of the reference's rate this fleet kept.
    func growthLines(from reference: Throughput, referenceKeys: Int, keys: Int) -> [String] {
        [
            "   workers   \(referenceKeys) keys (runs)".padding(toLength: 43, withPad: " ", startingAt: 0)
                + "\(keys) keys   rate kept"
        ]
            + zip(reference.rows, rows).map { small, large in
                String(format: "   %7d   %7.0f", small.workers, small.runtime) + Self.runs(small)
                    + String(format: "   %7.0f   %8.0f %%", large.runtime, large.runtime / small.runtime * 100)
            }
    }

    private static func runs(_ row: Row) -> String {
        " (\(row.runs.map { String(format: "%.0f", $0) }.joined(separator: ", ")))".padding(
            toLength: 23, withPad: " ", startingAt: 0)
    }
}

extension Bench {
    /// For 1 and 4 workers: each fleet's baseline once, then the runtime `repeats` times on
    /// each fleet, the fleets' runs alternating (so the machine's slow minutes fall on both),
    /// each run starting from a vacuumed table (no dead rows left by the previous run); the
    /// medians. The last fleet's last run is profiled.
    func measureThroughput(_ fleets: [Fleet], postmaster: Int32?, logger: Logger) async throws -> [Throughput] {
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
}
