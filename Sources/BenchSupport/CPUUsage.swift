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

    /// This process's resident memory now (`/proc/self/statm`), in kilobytes.
    public static func residentKilobytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * sysconf(Int32(_SC_PAGESIZE)) / 1024
    }

    /// This process's peak resident memory (`VmHWM`), in kilobytes, since it started or since
    /// the last `resetPeakRSS()`.
    public static func peakRSSKilobytes() -> Int {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            if let kilobytes = line.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) { return kilobytes }
        }
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return usage.ru_maxrss
    }

    /// Gives the heap memory freed so far back to the system (glibc's `malloc_trim`).
    public static func returnFreedMemory() {
        typealias Trim = @convention(c) (Int) -> Int32
        guard let process = dlopen(nil, RTLD_NOW), let symbol = dlsym(process, "malloc_trim") else { return }
        _ = unsafeBitCast(symbol, to: Trim.self)(0)
    }

    /// Starts the peak over from the resident memory now (`/proc/self/clear_refs`), so a later
    /// phase's peak is its own (memory an earlier phase freed, still resident, counts).
    public static func resetPeakRSS() {
        try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
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
