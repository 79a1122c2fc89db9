import ControllerHost
import HealthServer
import Metrics
import Postgres
import Prometheus
import Providers
import WorkspaceControllers

/// `/metrics`: swift-metrics bootstrapped on a Prometheus registry with every module's help
/// text, and the families that exist from the start created at zero. Only the CLI does this;
/// the libraries only declare their metrics.
enum MetricsBootstrap {
    /// The `version` label of `molecule_build_info`: the release `--version` prints.
    static var version: String { MoleculeReconciler.release }

    /// Every module's `# HELP` texts.
    static let help: [String: String] = [
        ControllerMetrics.help, PostgresMetrics.help, ProviderMetrics.help, FleetMetrics.help, HealthServerMetrics.help,
    ].reduce(into: [:]) { all, module in all.merge(module) { first, _ in first } }

    static func bootstrap() -> PrometheusCollectorRegistry {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(DocumentedMetricsFactory(registry: registry, help: help))
        PostgresMetrics.declare()
        return registry
    }
}
