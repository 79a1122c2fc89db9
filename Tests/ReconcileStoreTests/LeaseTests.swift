import Foundation
import Postgres
import PostgresTestSupport
import ReconcileRuntime
import ReconcileStore
import Testing

@Suite("per-key leases: the batch claim and the fenced write-back")
struct LeaseTests {
    static func store(_ pool: PostgresPool) -> ControllerStateStore {
        ControllerStateStore(table: ControllerTable("instances"), pool: pool)
    }

    @Test("two holders racing for one key: exactly one wins")
    func raceHasOneWinner() async throws {
        let pool = try await TestDatabase.create(poolSize: 8)
        let key = try await Fixtures.workspace(pool)
        let store = Self.store(pool)
        for round in 0..<20 {
            let claims = try await withThrowingTaskGroup(of: [ControllerStateStore.Claimed].self) { group in
                for holder in ["replica-a", "replica-b"] {
                    group.addTask { try await store.claim(keys: [key], holder: holder, leaseSeconds: 30, now: nil) }
                }
                return try await group.reduce(into: [ControllerStateStore.Claimed]()) { $0 += $1 }
            }
            #expect(claims.count == 1, "round \(round)")
            let holder = try await pool.query(
                "SELECT holder FROM leases WHERE key = $1::uuid AND controller = 'instances'", [key]
            )
            .rows[0].require(String.self, "holder")
            let released = try await store.writeBack(
                [
                    StatusWrite(
                        key: key, token: claims[0].token, observedGeneration: nil,
                        error: nil, next: .none)
                ], holder: holder, now: nil)
            #expect(released.fenced == [key])
        }
    }

    @Test(
        "an expired lease is taken over with a higher token, decided by the database clock; the claim says it took over, a free or released key's does not"
    )
    func expiryAndTakeover() async throws {
        let pool = try await TestDatabase.create()
        let key = try await Fixtures.workspace(pool)
        let store = Self.store(pool)
        let t0 = Date.epoch
        let first = try await store.claim(keys: [key], holder: "a", leaseSeconds: 30, now: t0)
        #expect(first.map(\.tookOver) == [false])
        #expect(try await store.claim(keys: [key], holder: "b", leaseSeconds: 30, now: t0 + 29).isEmpty)
        let second = try await store.claim(keys: [key], holder: "b", leaseSeconds: 30, now: t0 + 30)
        #expect(second.count == 1 && second[0].token > first[0].token)
        #expect(second.map(\.tookOver) == [true])
        let released = try await store.writeBack(
            [StatusWrite(key: key, token: second[0].token, observedGeneration: nil, error: nil, next: .none)],
            holder: "b", now: t0 + 31)
        #expect(released.fenced == [key])
        #expect(try await store.claim(keys: [key], holder: "a", leaseSeconds: 30, now: t0 + 32).map(\.tookOver) == [false])
    }

    @Test(
        "a replica's own lease is its own: after a failed write-back it claims the key again at once, and the old token is fenced off"
    )
    func ownLeaseReclaimed() async throws {
        let pool = try await TestDatabase.create()
        let key = try await Fixtures.workspace(pool)
        let store = Self.store(pool)
        let t0 = Date.epoch
        let first = try await store.claim(keys: [key], holder: "a", leaseSeconds: 30, now: t0)
        // The write-back never happened (the database went away): the lease is still a's.
        #expect(try await store.claim(keys: [key], holder: "b", leaseSeconds: 30, now: t0 + 1).isEmpty)
        let again = try await store.claim(keys: [key], holder: "a", leaseSeconds: 30, now: t0 + 1)
        #expect(again.count == 1 && again[0].token > first[0].token)
        #expect(again.map(\.tookOver) == [false], "its own lease is not a takeover")
        let stale = try await store.writeBack(
            [
                StatusWrite(
                    key: key, token: first[0].token, observedGeneration: 1, error: nil,
                    next: .none)
            ], holder: "a", now: t0 + 2)
        #expect(stale.fenced.isEmpty)
    }

    @Test("renewal keeps a long reconcile's lease; a renewal with a stale token fails")
    func renewal() async throws {
        let pool = try await TestDatabase.create()
        let key = try await Fixtures.workspace(pool)
        let store = Self.store(pool)
        let leases = LeaseStore(pool: pool)
        let t0 = Date.epoch
        let token = try await store.claim(keys: [key], holder: "a", leaseSeconds: 30, now: t0)[0].token
        for step in 1...5 {
            let renewed = try await leases.renew(
                controller: "instances", fences: [(key, token)], holder: "a", leaseSeconds: 30,
                now: t0 + Double(step * 20))
            #expect(renewed == [key])
        }
        // 100 s after the claim, yet still held: nobody else gets it.
        #expect(try await store.claim(keys: [key], holder: "b", leaseSeconds: 30, now: t0 + 110).isEmpty)
        let taken = try await store.claim(keys: [key], holder: "b", leaseSeconds: 30, now: t0 + 200)
        #expect(taken.count == 1)
        let stale = try await leases.renew(
            controller: "instances", fences: [(key, token)], holder: "a", leaseSeconds: 30, now: t0 + 201)
        #expect(stale.isEmpty)
    }

    @Test("a write-back with a stale fencing token drops the whole result (status, events, wake-ups); the current holder's lands")
    func fencedStatusWrite() async throws {
        let pool = try await TestDatabase.create()
        let key = try await Fixtures.workspace(pool)
        let store = Self.store(pool)
        let t0 = Date.epoch
        let paused = try await store.claim(keys: [key], holder: "paused", leaseSeconds: 10, now: t0)
        #expect(paused.count == 1)
        // The paused replica's lease lapses; another takes over and converges.
        let active = try await store.claim(keys: [key], holder: "active", leaseSeconds: 10, now: t0 + 11)
        #expect(active.count == 1 && active[0].token > paused[0].token)
        let before = try await Fixtures.generations(pool, table: "plugin_installs", key: key)
        let stale = try await store.writeBack(
            [
                StatusWrite(
                    key: key, token: paused[0].token, observedGeneration: nil,
                    error: "stale error", next: .retry(seconds: 60),
                    events: [.warning("Stale", "from the paused replica")],
                    wakes: [Wake(controller: "plugin_installs", key: key)])
            ],
            holder: "paused", now: t0 + 12)
        #expect(stale.fenced.isEmpty && stale.written.isEmpty)
        #expect(try await pool.query("SELECT 1 FROM events WHERE key = $1::uuid", [key]).rows.isEmpty)
        #expect(try await Fixtures.generations(pool, table: "plugin_installs", key: key) == before)
        let current = try await store.writeBack(
            [
                StatusWrite(
                    key: key, token: active[0].token, observedGeneration: active[0].desiredGeneration,
                    error: nil, next: .none, events: [.normal("Done", "converged"), .normal("Done", "converged")],
                    wakes: [Wake(controller: "plugin_installs", key: key)])
            ],
            holder: "active", now: t0 + 12)
        #expect(current.fenced == [key] && current.written == [key])
        let row = try await pool.query("SELECT observed_generation, last_error FROM instances WHERE key = $1::uuid", [key]).rows[
            0]
        #expect(try row.decode(Int64.self, "observed_generation") == 1)
        #expect(try row.decode(String.self, "last_error") == nil)
        // Identical events of one pass are one event counted twice; the wake-up moved the other controller.
        #expect(
            try await pool.query("SELECT count FROM events WHERE key = $1::uuid AND reason = 'Done'", [key])
                .rows.map { try $0.require(Int.self, "count") } == [2])
        #expect(try await Fixtures.generations(pool, table: "plugin_installs", key: key).desired == before.desired + 1)
    }

    @Test("a claim skips keys held elsewhere or waiting out a retry time, but not keys merely watched")
    func claimSkipsHeldAndBackedOff() async throws {
        let pool = try await TestDatabase.create()
        let held = try await Fixtures.workspace(pool)
        let backedOff = try await Fixtures.workspace(pool)
        let watched = try await Fixtures.workspace(pool)
        let free = try await Fixtures.workspace(pool)
        let store = Self.store(pool)
        let t0 = Date.epoch
        _ = try await store.claim(keys: [held], holder: "other", leaseSeconds: 60, now: t0)
        let mine = try await store.claim(keys: [backedOff, watched], holder: "me", leaseSeconds: 60, now: t0)
        let tokens = Dictionary(uniqueKeysWithValues: mine.map { ($0.key, $0.token) })
        _ = try await store.writeBack(
            [
                StatusWrite(
                    key: backedOff, token: tokens[backedOff]!, observedGeneration: nil, error: "boom", next: .retry(seconds: 30)),
                StatusWrite(key: watched, token: tokens[watched]!, observedGeneration: 1, error: nil, next: .look(seconds: 30)),
            ], holder: "me", now: t0)
        let claimed = try await store.claim(keys: [held, backedOff, watched, free], holder: "me", leaseSeconds: 60, now: t0 + 1)
        #expect(Set(claimed.map(\.key)) == [watched, free])
        let later = try await store.claim(keys: [backedOff], holder: "me", leaseSeconds: 60, now: t0 + 31)
        #expect(later.map(\.key) == [backedOff])
        #expect(later.first?.attempts == 1)
        #expect(later.first?.lastError == "boom")
    }

    @Test(
        "a change made while a reconcile ran keeps the key due: not hidden behind its look, retry time or terminal failure",
        arguments: [StatusWrite.Next.look(seconds: 30), .retry(seconds: 300), .never])
    func changeDuringReconcileStaysDue(_ next: StatusWrite.Next) async throws {
        let pool = try await TestDatabase.create()
        let key = try await Fixtures.workspace(pool)
        let store = Self.store(pool)
        let claim = try await store.claim(keys: [key], holder: "me", leaseSeconds: 60, now: nil)
        // An operator's change while the reconcile runs: its bump makes the key due.
        try await pool.query("UPDATE workspaces SET image = 'registry/agent:2' WHERE id = $1::uuid", [key])
        let error: String? = next == .look(seconds: 30) ? nil : "boom"
        _ = try await store.writeBack(
            [
                StatusWrite(
                    key: key, token: claim[0].token, claimedGeneration: claim[0].desiredGeneration,
                    observedGeneration: nil, error: error, next: next)
            ], holder: "me", now: nil)
        #expect(try await store.selectPending().map(\.key) == [key])
        let again = try await store.claim(keys: [key], holder: "other", leaseSeconds: 60, now: nil)
        #expect(again.map(\.desiredGeneration) == [claim[0].desiredGeneration + 1])
    }

    @Test("a look is persisted; asking for the same look again writes nothing; the due resync finds it when it comes near")
    func persistedLook() async throws {
        let pool = try await TestDatabase.create()
        let key = try await Fixtures.workspace(pool)
        let store = Self.store(pool)
        let t0 = Date.epoch
        func pass(at time: Date, _ next: StatusWrite.Next, observed: Int64? = 1) async throws -> ControllerStateStore.WriteResult
        {
            let claim = try await store.claim(keys: [key], holder: "me", leaseSeconds: 60, now: time)
            return try await store.writeBack(
                [
                    StatusWrite(
                        key: key, token: claim[0].token, observedGeneration: observed, error: nil,
                        next: next)
                ], holder: "me", now: time)
        }
        #expect(try await pass(at: t0, .look(seconds: 30)).written == [key])
        #expect(try await pass(at: t0 + 5, .look(seconds: 30)).written.isEmpty, "an earlier look is kept")
        #expect(try await pass(at: t0 + 6, .look(seconds: 2)).written == [key], "a sooner look replaces it")
        #expect(try await store.selectPending(within: 0, now: t0 + 7).isEmpty)
        #expect(try await store.selectPending(within: 5, now: t0 + 7).map(\.key) == [key])
        #expect(try await store.selectPending(within: 0, now: t0 + 8.3).map(\.isDue) == [true])
        // Not converged yet (the observed generation not recorded): counted as converging.
        _ = try await pass(at: t0 + 9, .look(seconds: 2), observed: nil)
        try await pool.query("UPDATE instances SET desired_generation = desired_generation + 1 WHERE key = $1::uuid", [key])
        #expect(try await store.selectConverging(now: t0 + 9).map(\.key) == [key])
        #expect(try await pass(at: t0 + 10, .none, observed: 2).written == [key])
        #expect(try await store.selectPending(within: 3600, now: t0 + 10).isEmpty)
    }

    @Test("a change made while a reconcile ran is looked at now, not after the look that reconcile asked for")
    func changeDuringReconcile() async throws {
        let pool = try await TestDatabase.create()
        let key = try await Fixtures.workspace(pool)
        let store = Self.store(pool)
        let claim = try await store.claim(keys: [key], holder: "me", leaseSeconds: 60, now: nil)
        // A '*' fan-out bumps the key while it is being reconciled.
        try await pool.query("SELECT molecule_bump('instances', ARRAY[$1::uuid])", [key])
        _ = try await store.writeBack(
            [
                StatusWrite(
                    key: key, token: claim[0].token, claimedGeneration: claim[0].desiredGeneration,
                    observedGeneration: claim[0].desiredGeneration, error: nil,
                    next: .look(seconds: 30))
            ], holder: "me", now: nil)
        #expect(try await store.selectPending().map(\.key) == [key], "the change waits for the old look")
    }

    @Test("a counter a hand edit left at its maximum fails neither its key's write-back nor its batch's")
    func extremeCountersDoNotFailTheBatch() async throws {
        let pool = try await TestDatabase.create()
        let extreme = try await Fixtures.workspace(pool)
        let other = try await Fixtures.workspace(pool)
        try await pool.query("UPDATE instances SET attempts = 2147483647 WHERE key = $1::uuid", [extreme])
        let store = Self.store(pool)
        let claimed = try await store.claim(keys: [extreme, other], holder: "me", leaseSeconds: 60, now: nil)
        #expect(claimed.count == 2)
        let result = try await store.writeBack(
            claimed.map {
                StatusWrite(
                    key: $0.key, token: $0.token, observedGeneration: nil, error: "still failing", next: .retry(seconds: 1))
            }, holder: "me", now: nil)
        #expect(result.fenced == [extreme, other])
        #expect(
            try await pool.query("SELECT attempts FROM instances WHERE key = $1::uuid", [extreme]).rows[0]
                .require(Int.self, "attempts") == 2147483647)
    }
}
