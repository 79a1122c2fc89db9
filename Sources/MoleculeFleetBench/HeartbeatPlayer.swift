import Foundation
import Postgres
import Synchronization

/// Plays the platform in heartbeat mode: every `interval`, one statement reports every new
/// instance ready (and refreshes old reports), as a fleet of runtimes reporting in would.
final class HeartbeatPlayer: Sendable {
    private let world: FleetWorld
    private let interval: Duration
    private let statements = Atomic<Int>(0)
    private let rows = Atomic<Int>(0)
    private let task = Mutex<Task<Void, Never>?>(nil)

    init(configuration: PostgresConfiguration, interval: Duration) {
        self.world = FleetWorld(connection: PostgresConnection(configuration: configuration))
        self.interval = interval
    }

    /// Statements sent and rows written so far.
    var sent: (statements: Int, rows: Int) { (statements.load(ordering: .relaxed), rows.load(ordering: .relaxed)) }

    func start() {
        let running = Task {
            while !Task.isCancelled {
                do {
                    let written = try await self.world.reportHeartbeats()
                    self.statements.add(1, ordering: .relaxed)
                    self.rows.add(written, ordering: .relaxed)
                } catch {
                    print("   (heartbeat statement failed: \(error))")
                }
                try? await Task.sleep(for: self.interval)
            }
        }
        task.withLock { $0 = running }
    }

    func stop() async {
        guard let running = task.withLock({ $0.take() }) else { return }
        running.cancel()
        await running.value
        await world.connection.close()
    }
}
