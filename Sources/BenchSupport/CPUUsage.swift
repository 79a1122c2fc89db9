import Foundation

/// CPU seconds spent so far by this process (the controllers, the fakes, the bench) and by the
/// PostgreSQL server (the postmaster and its live children, read from `/proc`). A difference
/// counts each server process that is alive at its end from where it was at the start (or from
/// its birth): a backend that exited in between takes its time with it, one that exited before
/// the end is not subtracted either, and the benchmark's sessions live for the whole phase.
public struct CPUUsage: Sendable {
    public var process: Double
    public var server: Double
    private var serverProcesses: [Int32: Double]

    private init(process: Double, serverProcesses: [Int32: Double]) {
        self.process = process
        self.serverProcesses = serverProcesses
        self.server = serverProcesses.values.reduce(0, +)
    }

    public static func now(postmaster: Int32?) -> CPUUsage {
        CPUUsage(process: processSeconds(), serverProcesses: postmaster.map(serverSeconds) ?? [:])
    }

    public static func - (lhs: CPUUsage, rhs: CPUUsage) -> CPUUsage {
        CPUUsage(
            process: lhs.process - rhs.process,
            serverProcesses: lhs.serverProcesses.merging(rhs.serverProcesses.filter { lhs.serverProcesses[$0.key] != nil }) {
                end, start in end - start
            })
    }

    public static func processSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
            + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
    }

    /// The postmaster's process id, from its data directory (its children are the backends).
    public static func postmaster(dataDirectory: String) -> Int32? {
        let file = (dataDirectory as NSString).appendingPathComponent("postmaster.pid")
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { return nil }
        return text.split(separator: "\n").first.flatMap { Int32($0) }
    }

    public static func peakRSSKilobytes() -> Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return usage.ru_maxrss
    }

    /// utime + stime of the postmaster and of every process whose parent it is, by process.
    private static func serverSeconds(postmaster: Int32) -> [Int32: Double] {
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [:] }
        var total: [Int32: Double] = [:]
        for entry in entries {
            guard let pid = Int32(entry), let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { continue }
            // Fields after "(comm)": state ppid ... utime (14th field overall) stime (15th).
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 12, let parent = Int32(fields[1]), pid == postmaster || parent == postmaster,
                let user = Double(fields[11]), let system = Double(fields[12])
            else { continue }
            total[pid] = (user + system) / ticks
        }
        return total
    }
}
