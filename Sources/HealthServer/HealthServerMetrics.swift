import Metrics

/// Every family this module exports, with its help text: the process collector and build info
/// (`ProcessMetrics`) and the database check of `ReadinessMonitor`.
public enum HealthServerMetrics {
    /// `# HELP` text of every family this module exports.
    public static let help: [String: String] = [
        "process_cpu_seconds_total": "Total user and system CPU time spent in seconds.",
        "process_resident_memory_bytes": "Resident memory size in bytes.",
        "process_virtual_memory_bytes": "Virtual memory size in bytes.",
        "process_open_fds": "Number of open file descriptors.",
        "process_max_fds": "Maximum number of open file descriptors.",
        "process_start_time_seconds": "Start time of the process since unix epoch in seconds.",
        "molecule_build_info": "Always 1; the labels say which build of molecule-reconciler runs.",
        "molecule_database_up":
            "1 when the last database check (SELECT 1 on a connection of its own, every second) succeeded, else 0.",
        "molecule_database_check_failures_total": "Database checks (SELECT 1) that failed.",
    ]

    static let databaseUp = Gauge(label: "molecule_database_up")
    static let databaseCheckFailures = Counter(label: "molecule_database_check_failures_total")
}
