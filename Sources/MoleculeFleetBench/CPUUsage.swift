import Foundation

/// CPU seconds spent so far by this process (the controllers, the fakes, the bench) and by the
/// PostgreSQL server (the postmaster and its live children, read from `/proc`; a backend that
/// exited takes its time with it, but the benchmark's sessions live for the whole run).
struct CPUUsage {
    var process: Double
    var server: Double

    static func now(postmaster: Int32?) -> CPUUsage {
        CPUUsage(process: processSeconds(), server: postmaster.map(serverSeconds) ?? 0)
    }

    static func - (lhs: CPUUsage, rhs: CPUUsage) -> CPUUsage {
        CPUUsage(process: lhs.process - rhs.process, server: lhs.server - rhs.server)
    }

    static func processSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
            + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
    }

    static func peakRSSKilobytes() -> Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return usage.ru_maxrss
    }

    /// utime + stime of the postmaster and every process whose parent it is.
    private static func serverSeconds(postmaster: Int32) -> Double {
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return 0 }
        var total = 0.0
        for entry in entries {
            guard let pid = Int32(entry), let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { continue }
            // Fields after "(comm)": state ppid ... utime (14th field overall) stime (15th).
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 12, let parent = Int32(fields[1]), pid == postmaster || parent == postmaster,
                let user = Double(fields[11]), let system = Double(fields[12])
            else { continue }
            total += (user + system) / ticks
        }
        return total
    }
}
