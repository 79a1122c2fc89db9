import Metrics

/// Every metric of one controller, declared once and created (so exported as zero) when the
/// controller starts. Names follow client-go's workqueue and controller-runtime's metrics;
/// labels come from bounded sets only (controller name, result), never a key.
public struct ControllerMetrics: Sendable {
    /// `# HELP` text of every family this module exports (the CLI's metrics factory reads it).
    public static let help: [String: String] = [
        "workqueue_depth": "Current depth of the work queue.",
        "workqueue_adds_total": "Keys added to the work queue.",
        "workqueue_retries_total": "Retries of failed reconciles handled by the work queue.",
        "workqueue_queue_duration_seconds": "How long a key waits in the work queue before it is processed.",
        "workqueue_work_duration_seconds": "How long processing one batch of keys takes.",
        "workqueue_unfinished_work_seconds":
            "Seconds of work in progress that has not finished (summed over in-flight keys); a large, growing value means stuck workers.",
        "workqueue_longest_running_processor_seconds": "Seconds the longest-running batch of this queue has been running.",
        "controller_runtime_reconcile_total":
            "Reconciles by result: success (done or watching), error, requeue (the result was dropped and the key queued again), requeue_after (not converged yet).",
        "controller_runtime_reconcile_errors_total": "Reconciles that failed (retried or terminal).",
        "controller_runtime_terminal_reconcile_errors_total":
            "Reconciles that failed terminally (not retried until the desired state changes).",
        "controller_runtime_reconcile_time_seconds": "How long one reconcile takes.",
        "controller_runtime_active_workers": "Reconciles running now.",
        "controller_runtime_max_concurrent_reconciles": "Workers of the controller.",
        "molecule_lease_acquisitions_total": "Key leases claimed by this replica.",
        "molecule_lease_losses_total": "Key leases lost before the write-back (the result was dropped).",
        "molecule_lease_contended_total": "Key claims skipped because another holder's lease or a retry time kept the key.",
        "molecule_lease_takeovers_total":
            "Key leases taken over from another holder whose lease had expired (a dead or stalled replica).",
        "molecule_failing_keys": "Keys whose last reconcile failed (last_error set), by controller; refreshed periodically.",
        "molecule_due_keys": "Keys due for a reconcile now (by the database clock), by controller; refreshed periodically.",
        "molecule_listener_connected": "1 while the LISTEN session that feeds the work queues is connected, else 0.",
        "molecule_listener_disconnects_total": "LISTEN sessions lost or that could not be opened.",
        "molecule_database_timeline_changes_total":
            "Reconnects that landed on another server history (system identifier or timeline): a failover, a switchover, a restore.",
    ]

    let depth: Gauge
    let adds: Counter
    let retries: Counter
    let queueDuration: Timer
    let workDuration: Timer
    let unfinishedWork: Gauge
    let longestRunning: Gauge
    let reconcileSuccess: Counter
    let reconcileError: Counter
    let reconcileRequeue: Counter
    let reconcileRequeueAfter: Counter
    let terminalErrors: Counter
    let reconcileErrors: Counter
    let reconcileTime: Timer
    let activeWorkers: Meter
    let maxConcurrentReconciles: Gauge
    let leaseAcquisitions: Counter
    let leaseLosses: Counter
    let leaseContended: Counter
    let leaseTakeovers: Counter
    let failingKeys: Gauge
    let dueKeys: Gauge

    init(controller: String, workers: Int) {
        let name = [("name", controller)]
        let ctrl = [("controller", controller)]
        func reconciles(_ result: String) -> Counter {
            Counter(label: "controller_runtime_reconcile_total", dimensions: ctrl + [("result", result)])
        }
        depth = Gauge(label: "workqueue_depth", dimensions: name)
        adds = Counter(label: "workqueue_adds_total", dimensions: name)
        retries = Counter(label: "workqueue_retries_total", dimensions: name)
        queueDuration = Timer(label: "workqueue_queue_duration_seconds", dimensions: name, preferredDisplayUnit: .seconds)
        workDuration = Timer(label: "workqueue_work_duration_seconds", dimensions: name, preferredDisplayUnit: .seconds)
        unfinishedWork = Gauge(label: "workqueue_unfinished_work_seconds", dimensions: name)
        longestRunning = Gauge(label: "workqueue_longest_running_processor_seconds", dimensions: name)
        reconcileSuccess = reconciles("success")
        reconcileError = reconciles("error")
        reconcileRequeue = reconciles("requeue")
        reconcileRequeueAfter = reconciles("requeue_after")
        terminalErrors = Counter(label: "controller_runtime_terminal_reconcile_errors_total", dimensions: ctrl)
        reconcileErrors = Counter(label: "controller_runtime_reconcile_errors_total", dimensions: ctrl)
        reconcileTime = Timer(
            label: "controller_runtime_reconcile_time_seconds", dimensions: ctrl, preferredDisplayUnit: .seconds)
        activeWorkers = Meter(label: "controller_runtime_active_workers", dimensions: ctrl)
        maxConcurrentReconciles = Gauge(label: "controller_runtime_max_concurrent_reconciles", dimensions: ctrl)
        leaseAcquisitions = Counter(label: "molecule_lease_acquisitions_total", dimensions: ctrl)
        leaseLosses = Counter(label: "molecule_lease_losses_total", dimensions: ctrl)
        leaseContended = Counter(label: "molecule_lease_contended_total", dimensions: ctrl)
        leaseTakeovers = Counter(label: "molecule_lease_takeovers_total", dimensions: ctrl)
        failingKeys = Gauge(label: "molecule_failing_keys", dimensions: ctrl)
        dueKeys = Gauge(label: "molecule_due_keys", dimensions: ctrl)
        for gauge in [depth, unfinishedWork, longestRunning, failingKeys, dueKeys] { gauge.record(0) }
        activeWorkers.set(0)
        maxConcurrentReconciles.record(workers)
    }
}

/// The host's own metrics (one per process, no labels): the LISTEN session and the server history.
struct HostMetrics: Sendable {
    let listenerConnected = Gauge(label: "molecule_listener_connected")
    let listenerDisconnects = Counter(label: "molecule_listener_disconnects_total")
    /// Reconnects that landed on another server history: a failover, a switchover, a restore.
    let timelineChanges = Counter(label: "molecule_database_timeline_changes_total")

    init() {
        listenerConnected.record(0)
        listenerDisconnects.increment(by: 0)
        timelineChanges.increment(by: 0)
    }
}
