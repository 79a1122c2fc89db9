import Metrics

/// Every metric of one controller, declared once and created (so exported as zero) when the
/// controller starts. Names follow client-go's workqueue and controller-runtime's metrics;
/// labels come from bounded sets only (controller name, result), never a key.
struct ControllerMetrics: Sendable {
    let depth: Gauge
    let adds: Counter
    let retries: Counter
    let queueDuration: Timer
    let workDuration: Timer
    let reconcileSuccess: Counter
    let reconcileError: Counter
    let reconcileRequeueAfter: Counter
    let terminalErrors: Counter
    let reconcileErrors: Counter
    let reconcileTime: Timer
    let activeWorkers: Meter
    let maxConcurrentReconciles: Gauge
    let leaseAcquisitions: Counter
    let leaseLosses: Counter
    let leaseContended: Counter

    init(controller: String, workers: Int) {
        let name = [("name", controller)]
        let ctrl = [("controller", controller)]
        depth = Gauge(label: "workqueue_depth", dimensions: name)
        adds = Counter(label: "workqueue_adds_total", dimensions: name)
        retries = Counter(label: "workqueue_retries_total", dimensions: name)
        queueDuration = Timer(label: "workqueue_queue_duration_seconds", dimensions: name, preferredDisplayUnit: .seconds)
        workDuration = Timer(label: "workqueue_work_duration_seconds", dimensions: name, preferredDisplayUnit: .seconds)
        reconcileSuccess = Counter(label: "controller_runtime_reconcile_total", dimensions: ctrl + [("result", "success")])
        reconcileError = Counter(label: "controller_runtime_reconcile_total", dimensions: ctrl + [("result", "error")])
        reconcileRequeueAfter = Counter(
            label: "controller_runtime_reconcile_total", dimensions: ctrl + [("result", "requeue_after")])
        terminalErrors = Counter(label: "controller_runtime_terminal_reconcile_errors_total", dimensions: ctrl)
        reconcileErrors = Counter(label: "controller_runtime_reconcile_errors_total", dimensions: ctrl)
        reconcileTime = Timer(
            label: "controller_runtime_reconcile_time_seconds", dimensions: ctrl, preferredDisplayUnit: .seconds)
        activeWorkers = Meter(label: "controller_runtime_active_workers", dimensions: ctrl)
        maxConcurrentReconciles = Gauge(label: "controller_runtime_max_concurrent_reconciles", dimensions: ctrl)
        leaseAcquisitions = Counter(label: "molecule_lease_acquisitions_total", dimensions: ctrl)
        leaseLosses = Counter(label: "molecule_lease_losses_total", dimensions: ctrl)
        leaseContended = Counter(label: "molecule_lease_contended_total", dimensions: ctrl)
        depth.record(0)
        activeWorkers.set(0)
        maxConcurrentReconciles.record(workers)
    }
}

/// The sidecar's own metrics (one per process, no labels), created with the host.
struct HostMetrics: Sendable {
    /// Reconnects that landed on another server history: a failover, a switchover, a restore.
    let timelineChanges: Counter

    init() {
        timelineChanges = Counter(label: "molecule_database_timeline_changes_total")
    }
}
