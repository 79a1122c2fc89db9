import Logging
import Postgres
import ServiceLifecycle
import Synchronization

/// Readiness as cached state, so that `/readyz` answers at once whatever the database does:
/// a background check runs `SELECT 1` on a connection of its own (not the pool's, so a busy pool
/// does not read as an outage) every `interval`, bounded by `checkDeadline`; the listener's
/// health is read as it is at the moment of the request.
///
/// Not ready while the LISTEN session is down, while the last check failed, or when no check
/// has succeeded for `staleAfter` (a check stuck connecting to a silent server).
public final class ReadinessMonitor: Service, Sendable {
    public struct Options: Sendable {
        /// Time between the starts of two database checks (a check that took longer, such as
        /// one that waited out `connect_timeout` on a silent host, is followed at once). Default 1 s.
        public var interval: Duration = .seconds(1)
        /// Bound on one check's statement (server-side timeout and client deadline). Default 1 s.
        public var checkDeadline: Duration = .seconds(1)
        /// Without a successful check for this long the database counts as unreachable. Default 6 s
        /// (more than a reconnection through a two-host list takes when the first host is silent:
        /// the sidecar's default `connect_timeout` of 2 s per host).
        public var staleAfter: Duration = .seconds(6)
        public init() {}
    }

    private struct CheckState {
        var lastSuccess: ContinuousClock.Instant?
        var lastFailure: String?
    }

    private let connection: PostgresConnection
    private let listenerHealth: @Sendable () -> PostgresListener.Health
    private let options: Options
    private let logger: Logger
    private let state = Mutex(CheckState())

    public init(
        configuration: PostgresConfiguration, listenerHealth: @escaping @Sendable () -> PostgresListener.Health,
        options: Options = Options(), logger: Logger
    ) {
        var probe = configuration
        probe.statementTimeoutMilliseconds = Int(options.checkDeadline / .milliseconds(1))
        probe.statementDeadlineMarginMilliseconds = 0
        probe.applicationName = configuration.applicationName + " readiness"
        self.connection = PostgresConnection(configuration: probe)
        self.listenerHealth = listenerHealth
        self.options = options
        self.logger = logger
        HealthServerMetrics.databaseUp.record(0)
        HealthServerMetrics.databaseCheckFailures.increment(by: 0)
    }

    /// Checks the database every `interval` until cancelled or a graceful shutdown.
    public func run() async throws {
        await cancelWhenGracefulShutdown { [self] in
            while !Task.isCancelled {
                let started = ContinuousClock.now
                await check()
                try? await Task.sleep(until: started + options.interval)
            }
        }
        await connection.close()
    }

    /// Why the sidecar is not ready, or nil when it is. Never waits: for `/readyz`.
    public func notReadyReason() -> String? {
        let listener = listenerHealth()
        if !listener.isConnected {
            let seconds = (ContinuousClock.now - listener.since) / .seconds(1)
            let reason = listener.lastError.map { ": \($0)" } ?? ""
            return "the LISTEN session is not connected (for \(String(format: "%.1f", seconds)) s)\(reason)"
        }
        let check = state.withLock { $0 }
        if let failure = check.lastFailure { return "database unreachable: \(failure)" }
        guard let success = check.lastSuccess else { return "the database has not been checked yet" }
        let age = ContinuousClock.now - success
        if age > options.staleAfter {
            return "no database check has succeeded for \(String(format: "%.1f", age / .seconds(1))) s"
        }
        return nil
    }

    /// One `SELECT 1`, recorded.
    private func check() async {
        do {
            try await connection.query("SELECT 1")
            state.withLock { $0 = CheckState(lastSuccess: .now, lastFailure: nil) }
            HealthServerMetrics.databaseUp.record(1)
        } catch {
            HealthServerMetrics.databaseUp.record(0)
            HealthServerMetrics.databaseCheckFailures.increment()
            let wasHealthy = state.withLock { state in
                defer { state.lastFailure = "\(error)" }
                return state.lastFailure == nil
            }
            if wasHealthy {
                logger.warning("readiness check failed: the database is unreachable", metadata: ["error": "\(error)"])
            }
        }
    }
}
