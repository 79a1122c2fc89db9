import Foundation
import Prometheus
import Synchronization

/// The process collector every Prometheus client has (`process_*`, read from `/proc` at each
/// scrape) and the build-info gauge.
final class ProcessMetrics: Sendable {
    private let cpuSeconds: Prometheus.Counter
    private let residentMemory: Prometheus.Gauge
    private let virtualMemory: Prometheus.Gauge
    private let openFDs: Prometheus.Gauge
    private let maxFDs: Prometheus.Gauge
    private let startTime: Prometheus.Gauge
    /// CPU seconds already added to the counter (it only moves forward).
    private let cpuCounted = Mutex(0.0)

    init(registry: PrometheusCollectorRegistry, version: String) {
        func help(_ name: String) -> String { HealthServerMetrics.help[name] ?? "" }
        cpuSeconds = registry.makeCounter(name: "process_cpu_seconds_total", help: help("process_cpu_seconds_total"))
        residentMemory = registry.makeGauge(
            name: "process_resident_memory_bytes", help: help("process_resident_memory_bytes"))
        virtualMemory = registry.makeGauge(name: "process_virtual_memory_bytes", help: help("process_virtual_memory_bytes"))
        openFDs = registry.makeGauge(name: "process_open_fds", help: help("process_open_fds"))
        maxFDs = registry.makeGauge(name: "process_max_fds", help: help("process_max_fds"))
        startTime = registry.makeGauge(name: "process_start_time_seconds", help: help("process_start_time_seconds"))
        registry.makeGauge(
            name: "molecule_build_info", labels: [("version", version), ("swift_version", Self.swiftVersion)],
            help: help("molecule_build_info")
        ).set(to: 1)
        update()
    }

    /// Reads `/proc/self` now. A field that cannot be read keeps its last value.
    func update() {
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        if let stat = Self.selfStat() {
            let cpu = (stat.userTicks + stat.systemTicks) / ticks
            let delta = cpuCounted.withLock { counted -> Double in
                let delta = max(0, cpu - counted)
                counted += delta
                return delta
            }
            if delta > 0 { cpuSeconds.increment(by: delta) }
            residentMemory.set(to: stat.residentPages * Double(sysconf(Int32(_SC_PAGESIZE))))
            virtualMemory.set(to: stat.virtualBytes)
            if let boot = Self.bootTime() { startTime.set(to: boot + stat.startTicks / ticks) }
        }
        if let fds = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") {
            openFDs.set(to: Double(fds.count))
        }
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 { maxFDs.set(to: Double(limit.rlim_cur)) }
    }

    private struct Stat {
        var userTicks: Double
        var systemTicks: Double
        var startTicks: Double
        var virtualBytes: Double
        var residentPages: Double
    }

    /// `/proc/self/stat`; the fields after the command name (which may hold spaces and
    /// parentheses) are split after its last `)`.
    private static func selfStat() -> Stat? {
        guard let text = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return nil }
        // Field 3 (state) is the first after the name; utime is field 14.
        let fields = text[text.index(after: close)...].split(separator: " ").map(String.init)
        func field(_ number: Int) -> Double? { fields.count > number - 3 ? Double(fields[number - 3]) : nil }
        guard let user = field(14), let system = field(15), let start = field(22), let virtual = field(23),
            let resident = field(24)
        else { return nil }
        return Stat(userTicks: user, systemTicks: system, startTicks: start, virtualBytes: virtual, residentPages: resident)
    }

    /// `btime` of `/proc/stat`: when the machine booted, in seconds since 1970.
    private static func bootTime() -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("btime ") {
            return Double(line.dropFirst("btime ".count).trimmingCharacters(in: .whitespaces))
        }
        return nil
    }

    private static var swiftVersion: String {
        #if compiler(>=6.3)
        "6.3"
        #elseif compiler(>=6.2)
        "6.2"
        #else
        "6.1"
        #endif
    }
}
