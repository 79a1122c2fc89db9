/// A gauge read from the database (a count over the fleet), refreshed by the sidecar
/// periodically rather than on every reconcile.
public protocol MetricsRefresher: Sendable {
    /// For logs.
    var name: String { get }
    /// Reads the current values and records them. On failure the gauges keep their last values.
    func refresh() async throws
}
