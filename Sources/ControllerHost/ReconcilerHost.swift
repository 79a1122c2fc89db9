import Foundation
import Logging
import Postgres
import ReconcileRuntime
import ReconcileStore
import ServiceLifecycle
import Synchronization

/// The sidecar: every controller's runner, the watch that feeds them, and graceful shutdown.
///
/// On SIGTERM/SIGINT (through `ServiceGroup`): stop taking work, let in-flight batches finish
/// within `shutdownDeadline` (then cancel them), release every lease this replica holds, return.
public final class ReconcilerHost: Service, Sendable {
    public struct Controller: Sendable {
        public var reconciler: any Reconciler
        /// How the reconciler's status value is written (none for a reconciler without one).
        public var statusColumns: StatusColumns
        public var options: ControllerOptions
        /// Names the keys in the log lines of failed reconciles (a workspace's org and name).
        public var subjects: (any KeySubjects)?

        public init(_ reconciler: some Reconciler, options: ControllerOptions = ControllerOptions()) {
            self.reconciler = reconciler
            self.statusColumns = .none
            self.options = options
        }

        public init(_ reconciler: some Reconciler & StatusWriter, options: ControllerOptions = ControllerOptions()) {
            self.reconciler = reconciler
            self.statusColumns = reconciler.statusColumns
            self.options = options
        }

        /// This controller, with its keys named by `subjects` in the log lines of failures.
        public func named(by subjects: any KeySubjects) -> Controller {
            var controller = self
            controller.subjects = subjects
            return controller
        }
    }

    /// This replica's identity in `leases.holder`.
    public let holder: String
    let runners: [String: ControllerRunner]
    private let pool: PostgresPool
    private let listener: PostgresListener
    private let shutdownDeadline: Duration
    private let sweepers: [any Sweeper]
    private let sweepInterval: Duration
    private let refreshers: [any MetricsRefresher]
    private let refreshInterval: Duration
    private let logger: Logger
    private let stopSignal = Mutex<AsyncStream<Void>.Continuation?>(nil)
    private let metrics = HostMetrics()

    /// - Parameters:
    ///   - shutdownDeadline: how long in-flight reconciles may take after SIGTERM. Default 10 s.
    ///   - sweepers: keyless collectors, run at start and every `sweepInterval` (default 60 s).
    ///   - refreshers: gauges read from the database, at start and every `refreshInterval`
    ///     (default 15 s).
    public init(
        pool: PostgresPool, controllers: [Controller], sweepers: [any Sweeper] = [], sweepInterval: Duration = .seconds(60),
        refreshers: [any MetricsRefresher] = [], refreshInterval: Duration = .seconds(15),
        listenerOptions: PostgresListener.Options = .init(), shutdownDeadline: Duration = .seconds(10),
        holder: String = ReconcilerHost.defaultHolder(), logger: Logger
    ) {
        self.pool = pool
        self.sweepers = sweepers
        self.sweepInterval = sweepInterval
        self.refreshers = refreshers
        self.refreshInterval = refreshInterval
        self.holder = holder
        self.logger = logger
        self.shutdownDeadline = shutdownDeadline
        var runners: [String: ControllerRunner] = [:]
        for controller in controllers {
            runners[controller.reconciler.name] = ControllerRunner(
                controller: controller, pool: pool, holder: holder,
                logger: logger)
        }
        self.runners = runners
        self.listener = PostgresListener(
            configuration: pool.configuration, channels: runners.keys.sorted(),
            options: listenerOptions, history: pool.history,
            // A server that stopped answering the listener holds the pool's sessions too: cut
            // them now rather than let their statements wait out the deadline.
            whenSilent: { [pool] in pool.abandonSessions() }, logger: logger)
    }

    /// `hostname:pid:random`, unique per process.
    public static func defaultHolder() -> String {
        "\(ProcessInfo.processInfo.hostName):\(getpid()):\(UUID().uuidString.prefix(8).lowercased())"
    }

    /// Whether the LISTEN session is up, and since when (part of readiness).
    public var listenerHealth: PostgresListener.Health { listener.health }

    public func run() async throws {
        logger.info("reconciler starting", metadata: ["holder": "\(holder)", "controllers": "\(runners.keys.sorted())"])
        let watch = Watch(listener: listener, runners: runners, logger: logger)
        let (stopped, stop) = AsyncStream.makeStream(of: Void.self)
        let work = Task {
            await withTaskGroup(of: Void.self) { group in
                for runner in runners.values { group.addTask { await runner.run() } }
                // With no controllers the host still runs (health endpoints, migrations done)
                // until it is told to stop.
                group.addTask { for await _ in stopped {} }
            }
        }
        self.stopSignal.withLock { $0 = stop }
        let watching = Task { await watch.run() }
        let sweeping = Task { await sweepPeriodically() }
        let refreshing = Task { await refreshPeriodically() }
        let following = Task { await lookAgainAfterHistoryChanges() }
        await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                await work.value
            } onCancel: {
                self.beginShutdown(abandoning: work)
            }
        } onGracefulShutdown: {
            self.beginShutdown(abandoning: work)
        }
        sweeping.cancel()
        refreshing.cancel()
        following.cancel()
        listener.stop()
        await watching.value
        await sweeping.value
        await refreshing.value
        await following.value
        do {
            let released = try await LeaseStore(pool: pool).releaseAll(holder: holder)
            logger.info("reconciler stopped", metadata: ["leases_released": "\(released)"])
        } catch {
            logger.error("releasing leases at shutdown failed; they expire by themselves", metadata: ["error": "\(error)"])
        }
    }

    /// A reconnect that lands on another server history (a failover, a switchover, a restore)
    /// means the rows may now be behind the world: say so, sweep at once (instances of rows the
    /// new server does not have), and let every controller look at its recent keys, then all.
    private func lookAgainAfterHistoryChanges() async {
        for await change in pool.history.changes() {
            logger.warning(
                "the database is another server history now; looking at the whole world again",
                metadata: [
                    "from": "\(change.from)", "to": "\(change.to)", "another_cluster": "\(change.isAnotherCluster)",
                ])
            metrics.timelineChanges.increment()
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.sweepAfterHistoryChange() }
                for runner in runners.values { group.addTask { await runner.lookAgainAfterHistoryChange() } }
            }
        }
    }

    /// The sweep a history change asks for, retried (250 ms doubling to 5 s) until every sweeper
    /// succeeded or the periodic sweep is due: right after a failover the pool still holds
    /// sessions on the old server, each failing once.
    private func sweepAfterHistoryChange() async {
        let giveUp = ContinuousClock.now + sweepInterval
        var pending = sweepers
        var wait = Duration.milliseconds(250)
        while true {
            pending = await sweep(pending, retrying: ContinuousClock.now + wait < giveUp)
            if pending.isEmpty || ContinuousClock.now + wait >= giveUp { return }
            do { try await Task.sleep(for: wait) } catch { return }
            wait = min(wait * 2, .seconds(5))
        }
    }

    /// Every sweeper at start, then every `sweepInterval`, until cancelled at shutdown.
    private func sweepPeriodically() async {
        guard !sweepers.isEmpty else { return }
        while !Task.isCancelled {
            await sweepOnce()
            do { try await Task.sleep(for: sweepInterval) } catch { return }
        }
    }

    private func sweepOnce() async {
        _ = await sweep(sweepers, retrying: false)
    }

    /// Runs `sweepers` once each; returns those that failed.
    private func sweep(_ sweepers: [any Sweeper], retrying: Bool) async -> [any Sweeper] {
        var failed: [any Sweeper] = []
        for sweeper in sweepers {
            do {
                let collected = try await sweeper.sweep(now: nil, actions: ActionLog())
                if collected > 0 {
                    logger.notice(
                        "sweep collected orphans", metadata: ["sweeper": "\(sweeper.name)", "count": "\(collected)"])
                }
            } catch {
                failed.append(sweeper)
                logger.error(
                    retrying ? "sweep failed; retrying" : "sweep failed; retried at the next interval",
                    metadata: ["sweeper": "\(sweeper.name)", "error": "\(error)"])
            }
        }
        return failed
    }

    /// Every metrics refresher at start, then every `refreshInterval`, until cancelled.
    private func refreshPeriodically() async {
        guard !refreshers.isEmpty else { return }
        while !Task.isCancelled {
            for refresher in refreshers {
                do {
                    try await refresher.refresh()
                } catch {
                    logger.debug(
                        "refreshing metrics failed; the gauges keep their last values",
                        metadata: ["refresher": "\(refresher.name)", "error": "\(error)"])
                }
            }
            do { try await Task.sleep(for: refreshInterval) } catch { return }
        }
    }

    /// Stops taking work at once; in-flight reconciles are cancelled when the deadline passes.
    private func beginShutdown(abandoning work: Task<Void, Never>) {
        logger.info("shutting down: no new work is taken", metadata: ["deadline_s": "\(shutdownDeadline.seconds)"])
        for runner in runners.values { runner.shutDown() }
        stopSignal.withLock { $0?.finish() }
        Task { [shutdownDeadline] in
            try? await Task.sleep(for: shutdownDeadline)
            work.cancel()
        }
    }
}
