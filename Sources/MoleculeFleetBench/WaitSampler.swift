import Foundation
import Postgres
import Synchronization

/// Samples what the controllers' sessions are doing (`pg_stat_activity`, every 50 ms, on a
/// session of its own): running (CPU, or waiting for one), or waiting on a lock, on WAL, on I/O.
/// Averaged over a phase, a count is how many sessions were in that state at once.
final class WaitSampler: Sendable {
    struct Samples: Sendable {
        var taken = 0
        /// role -> state -> sessions seen in it, summed over samples.
        var seen: [String: [String: Int]] = [:]
    }

    private let connection: PostgresConnection
    private let samples = Mutex(Samples())
    private let task = Mutex<Task<Void, Never>?>(nil)

    init(configuration: PostgresConfiguration) {
        connection = PostgresConnection(configuration: configuration)
    }

    var snapshot: Samples { samples.withLock { $0 } }

    func start() {
        let running = Task {
            while !Task.isCancelled {
                if let rows = try? await self.connection.query(
                    """
                    SELECT usename AS role, coalesce(wait_event_type || ':' || wait_event, 'CPU') AS state, count(*) AS n
                      FROM pg_stat_activity
                     WHERE datname = current_database() AND usename LIKE 'fleet\\_%' AND state = 'active'
                     GROUP BY 1, 2
                    """
                ).rows {
                    let seen = rows.compactMap { row -> (String, String, Int)? in
                        guard let role = try? row.require(String.self, "role"),
                            let state = try? row.require(String.self, "state"),
                            let count = try? row.require(Int.self, "n")
                        else { return nil }
                        return (role, state, count)
                    }
                    self.samples.withLock { samples in
                        samples.taken += 1
                        for (role, state, count) in seen { samples.seen[role, default: [:]][state, default: 0] += count }
                    }
                }
                try? await Task.sleep(for: .milliseconds(50))
            }
        }
        task.withLock { $0 = running }
    }

    func stop() async {
        guard let running = task.withLock({ $0.take() }) else { return }
        running.cancel()
        await running.value
        await connection.close()
    }

    /// Per role, the average number of its sessions in each state between two snapshots, most first.
    static func averages(from before: Samples, to after: Samples) -> [(role: String, states: [(String, Double)])] {
        let taken = Double(max(1, after.taken - before.taken))
        return after.seen.keys.sorted().map { role in
            let states = after.seen[role]!.map { state, count in
                (state, Double(count - (before.seen[role]?[state] ?? 0)) / taken)
            }.filter { $0.1 > 0 }.sorted { $0.1 > $1.1 }
            return (role, states)
        }.filter { !$0.states.isEmpty }
    }
}
