import Foundation
import Postgres
import PostgresTestSupport
import ReconcileStore
import Testing
import WorkspaceStore

/// An operator's multi-row `UPDATE workspaces` and a controller's batched write-back touch the
/// same rows: the workspace rows (status columns on one side, spec columns on the other) and
/// the controller rows (the write-back's own update on one side, the spec change's bump on the
/// other). The write-back takes the workspace rows first, in id order and without waiting
/// while it holds any (docs/DESIGN.md, "Lock order"), so neither statement is ever aborted as a
/// deadlock, whatever order the operator's statement locks its rows in.
@Suite("write-back lock order beside operators' updates")
struct WriteBackLockOrderTests {
    static let workspaceCount = 6

    struct World {
        let pool: PostgresPool
        let store: ControllerStateStore
        let ids: [String]
    }

    static func world() async throws -> World {
        let pool = try await TestDatabase.create(poolSize: 4)
        try await pool.query(#"INSERT INTO templates (name, files) VALUES ('t', '{"config.yaml": "model: m"}')"#)
        let ids = try await pool.query(
            """
            INSERT INTO workspaces (org, name, template, image)
            SELECT 'acme', 'w' || n, 't', 'agent:1' FROM generate_series(1, $1::int) n RETURNING id
            """, [workspaceCount]
        ).rows.map { try $0.require(String.self, "id") }.sorted()
        let store = ControllerStateStore(
            table: ControllerTable("secret_bundles"), statusColumns: BundleStore(pool: pool).statusColumns, pool: pool)
        return World(pool: pool, store: store, ids: ids)
    }

    /// The write-back of a failed pass over every key: a new error each round, so that it
    /// writes every controller row and every workspace row.
    static func failedPass(_ world: World, round: Int) async throws -> ControllerStateStore.WriteResult {
        let claimed = try await world.store.claim(keys: world.ids, holder: "replica-a", leaseSeconds: 30, now: nil)
        try #require(claimed.count == world.ids.count)
        let status = """
            {"condition": {"type": "BundleStaged", "status": "False", "reason": "Failing", "message": "round \(round)"},
             "error": "round \(round)"}
            """
        let writes = claimed.map {
            StatusWrite(
                key: $0.key, token: $0.token, claimedGeneration: $0.desiredGeneration, observedGeneration: nil,
                error: "round \(round)", next: .none, status: status, events: [.warning("Failing", "round \(round)")])
        }
        return try await world.store.writeBack(writes, holder: "replica-a", now: nil)
    }

    /// Whether the session `pid` is waiting for a lock.
    static func waitsForLock(_ pool: PostgresPool, pid: Int32) async throws -> Bool {
        try await pool.query(
            "SELECT count(*) AS n FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Lock'", [Int(pid)]
        ).rows[0].require(Int.self, "n") == 1
    }

    /// How many sessions of this database other than those listed wait for a lock.
    static func othersWaiting(_ pool: PostgresPool, besides pids: [Int32]) async throws -> Int {
        try await pool.query(
            """
            SELECT count(*) AS n FROM pg_stat_activity
             WHERE datname = current_database() AND wait_event_type = 'Lock' AND NOT (pid = ANY($1::int[]))
            """, [pids.map(Int.init)]
        ).rows[0].require(Int.self, "n")
    }

    @Test(
        "an operator's multi-row UPDATE workspaces and a batched write-back run into each other many times: no deadlock, both land",
        arguments: ["DESC", "ASC"])
    func noDeadlock(order: String) async throws {
        let world = try await Self.world()
        let configuration = world.pool.configuration
        let blocker = PostgresConnection(configuration: configuration)
        let operatorSession = PostgresConnection(configuration: configuration)
        let operatorPID = try await operatorSession.backendPID()
        let blockerPID = try await blocker.backendPID()
        // The row the operator's statement reaches last, held by a third session so that the
        // operator holds every other row when the write-back starts.
        let last = order == "DESC" ? world.ids.first! : world.ids.last!
        var deadlocks: [String] = []
        let rounds = 6
        for round in 1...rounds {
            try await blocker.query("BEGIN")
            try await blocker.query("SELECT 1 FROM workspaces WHERE id = $1::uuid FOR NO KEY UPDATE", [last])
            async let operatorUpdate = operatorSession.query(
                """
                UPDATE workspaces w SET restart_requests = w.restart_requests + 1
                  FROM (SELECT id FROM workspaces WHERE org = 'acme' ORDER BY id \(order) FOR NO KEY UPDATE) o
                 WHERE w.id = o.id
                """)
            while !(try await Self.waitsForLock(world.pool, pid: operatorPID)) { try await Task.sleep(for: .milliseconds(5)) }
            async let writeBack = Self.failedPass(world, round: round)
            // Until the write-back waits for a lock too (before the fix it does, holding the
            // controller rows), or has had its chance to (after it, it waits holding none).
            let clock = ContinuousClock()
            let until = clock.now + .milliseconds(300)
            while clock.now < until, try await Self.othersWaiting(world.pool, besides: [operatorPID, blockerPID]) < 1 {
                try await Task.sleep(for: .milliseconds(5))
            }
            try await blocker.query("COMMIT")
            do {
                _ = try await operatorUpdate
            } catch let error as PostgresError where error.code == .deadlockDetected {
                deadlocks.append("round \(round): the operator's UPDATE was aborted: \(error)")
            }
            do {
                let result = try await writeBack
                #expect(result.written == Set(world.ids), "round \(round)")
            } catch let error as PostgresError where error.code == .deadlockDetected {
                deadlocks.append("round \(round): the write-back was aborted: \(error)")
            }
        }
        await blocker.close()
        await operatorSession.close()
        #expect(deadlocks.isEmpty, "\(deadlocks)")
        let rows = try await world.pool.query(
            "SELECT restart_requests, last_error FROM workspaces ORDER BY id"
        ).rows
        for row in rows {
            #expect(try row.require(Int.self, "restart_requests") == rounds)
            #expect(try row.decode(String.self, "last_error") == "secret_bundles: round \(rounds)")
        }
    }
}
