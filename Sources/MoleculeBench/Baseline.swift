import Foundation
import Postgres
import Synchronization

/// The same per-key SQL the runtime performs — claim the lease, read the desired row, write the
/// status fenced by the token, release — issued directly, one transaction per key, by as many
/// clients as the runtime has workers. Every key is made due first, so both do real work.
struct Baseline {
    let configuration: PostgresConfiguration
    let keys: [String]
    let clients: Int

    func run() async throws -> Double {
        let pool = PostgresPool(configuration: configuration, size: clients)
        try await pool.query("SELECT molecule_bump('instances', ARRAY(SELECT key FROM instances))")
        let next = KeyCursor()
        let holder = "baseline"
        let started = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<clients {
                group.addTask {
                    try await pool.withConnection { connection in
                        while true {
                            let index = next.take()
                            guard index < keys.count else { return }
                            try await Self.reconcileOne(keys[index], holder: holder, on: connection)
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        let elapsed = ContinuousClock.now - started
        await pool.close()
        return Double(keys.count) / elapsed.secondsValue
    }

    static func reconcileOne(_ key: String, holder: String, on connection: PostgresConnection) async throws {
        try await connection.transaction { connection in
            let token = try await connection.query(
                """
                UPDATE leases SET holder = $2, token = token + 1, expires_at = now() + interval '30 seconds'
                 WHERE controller = 'instances' AND key = $1::uuid AND (holder IS NULL OR expires_at <= now())
                RETURNING token
                """, [key, holder]
            ).rows[0].require(Int64.self, "token")
            let desired = try await connection.query("SELECT desired_generation FROM instances WHERE key = $1::uuid", [key])
                .rows[0].require(Int64.self, "desired_generation")
            try await connection.query(
                """
                UPDATE instances s SET observed_generation = $2, attempts = 0, last_error = NULL, next_attempt_at = NULL
                 WHERE s.key = $1::uuid AND EXISTS (SELECT 1 FROM leases l WHERE l.controller = 'instances'
                       AND l.key = s.key AND l.holder = $3 AND l.token = $4)
                """, [key, desired, holder, token])
            try await connection.query(
                """
                UPDATE leases SET holder = NULL, expires_at = NULL
                 WHERE controller = 'instances' AND key = $1::uuid AND holder = $2 AND token = $3
                """, [key, holder, token])
        }
    }
}

/// Hands out key indexes to the baseline's clients.
final class KeyCursor: Sendable {
    private let next = Atomic<Int>(0)

    func take() -> Int { next.add(1, ordering: .relaxed).oldValue }
}
