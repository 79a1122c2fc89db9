import Metrics
import ReconcileRuntime
import WorkspaceModel
import WorkspaceStore

/// The fleet as gauges, read from the database every time the sidecar refreshes its metrics
/// (two counts over `workspaces`): workspaces per phase, and whether the remediation circuit
/// breaker is open (the same rule the instances controller applies, `Remediation.circuitOpen`).
public struct FleetMetrics: MetricsRefresher {
    /// `# HELP` text of every family this module exports.
    public static let help: [String: String] = [
        "molecule_workspaces": "Workspaces per phase; refreshed periodically.",
        "molecule_remediation_circuit_open":
            "1 while automatic remediation is paused because too large a share of the running fleet is failed (an outage rather than a faulty workspace), else 0.",
    ]

    public let name = "fleet"
    private let store: InstanceStore
    private let policy: Remediation.Policy
    private let phases: [Phase: Gauge]
    private let circuitOpen: Gauge

    /// Creates every series at zero.
    public init(store: InstanceStore, policy: Remediation.Policy = Remediation.Policy()) {
        self.store = store
        self.policy = policy
        phases = Dictionary(
            uniqueKeysWithValues: Phase.allCases.map {
                ($0, Gauge(label: "molecule_workspaces", dimensions: [("phase", $0.rawValue)]))
            })
        circuitOpen = Gauge(label: "molecule_remediation_circuit_open")
        for gauge in phases.values { gauge.record(0) }
        circuitOpen.record(0)
    }

    public func refresh() async throws {
        let counts = try await store.selectPhaseCounts()
        for (phase, gauge) in phases { gauge.record(counts[phase] ?? 0) }
        let fleet = try await store.selectFleetHealth()
        circuitOpen.record(Remediation.circuitOpen(fleet, policy: policy) ? 1 : 0)
    }
}
