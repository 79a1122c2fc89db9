import Foundation
import Postgres
import PostgresTestSupport
import ReconcileStore
import Testing

@Suite("per-key leases")
struct LeaseTests {
    @Test("two holders racing for one key: exactly one wins")
    func raceHasOneWinner() async throws {
        let pool = try await TestDatabase.create(poolSize: 8)
        let key = try await Fixtures.workspace(pool)
        let leases = LeaseStore(pool: pool)
        for round in 0..<20 {
            let tokens = try await withThrowingTaskGroup(of: Int64?.self) { group in
                for holder in ["replica-a", "replica-b"] {
                    group.addTask { try await leases.acquire(controller: "instances", key: key, holder: holder, leaseSeconds: 30) }
                }
                return try await group.reduce(into: [Int64?]()) { $0.append($1) }
            }
            #expect(tokens.compactMap { $0 }.count == 1, "round \(round)")
            let lease = try #require(try await leases.select(controller: "instances", key: key))
            #expect(try await leases.release(controller: "instances", key: key, holder: lease.holder!, token: lease.token))
        }
    }

    @Test("an expired lease is taken over with a higher token, decided by the database clock")
    func expiryAndTakeover() async throws {
        let pool = try await TestDatabase.create()
        let key = try await Fixtures.workspace(pool)
        let leases = LeaseStore(pool: pool)
        let t0 = Date.epoch
        let first = try #require(try await leases.acquire(controller: "instances", key: key, holder: "a", leaseSeconds: 30, now: t0))
        #expect(try await leases.acquire(controller: "instances", key: key, holder: "b", leaseSeconds: 30, now: t0 + 29) == nil)
        let second = try #require(try await leases.acquire(controller: "instances", key: key, holder: "b", leaseSeconds: 30, now: t0 + 30))
        #expect(second > first)
        #expect(try await leases.select(controller: "instances", key: key)?.holder == "b")
    }

    @Test("renewal keeps a long reconcile's lease; a renewal with a stale token fails")
    func renewal() async throws {
        let pool = try await TestDatabase.create()
        let key = try await Fixtures.workspace(pool)
        let leases = LeaseStore(pool: pool)
        let t0 = Date.epoch
        let token = try #require(try await leases.acquire(controller: "instances", key: key, holder: "a", leaseSeconds: 30, now: t0))
        for step in 1...5 {
            let renewed = try await leases.renew(controller: "instances", fences: [(key, token)], holder: "a", leaseSeconds: 30,
                                                 now: t0 + Double(step * 20))
            #expect(renewed == [key])
        }
        // 100 s after acquisition, yet still held: nobody else gets it.
        #expect(try await leases.acquire(controller: "instances", key: key, holder: "b", leaseSeconds: 30, now: t0 + 110) == nil)
        let taken = try #require(try await leases.acquire(controller: "instances", key: key, holder: "b", leaseSeconds: 30, now: t0 + 200))
        let stale = try await leases.renew(controller: "instances", fences: [(key, token)], holder: "a", leaseSeconds: 30, now: t0 + 201)
        #expect(stale.isEmpty)
        #expect(try await !leases.release(controller: "instances", key: key, holder: "a", token: token))
        #expect(try await leases.release(controller: "instances", key: key, holder: "b", token: taken))
    }

    @Test("a status write with a stale fencing token is refused; the current holder's write lands")
    func fencedStatusWrite() async throws {
        let pool = try await TestDatabase.create()
        let key = try await Fixtures.workspace(pool)
        let store = ControllerStateStore(table: ControllerTable("instances"), pool: pool)
        let t0 = Date.epoch
        let paused = try await store.claim(keys: [key], holder: "paused", leaseSeconds: 10, now: t0)
        #expect(paused.count == 1)
        // The paused replica's lease lapses; another takes over and converges.
        let active = try await store.claim(keys: [key], holder: "active", leaseSeconds: 10, now: t0 + 11)
        #expect(active.count == 1 && active[0].token > paused[0].token)
        let stale = try await store.writeBack([StatusWrite(key: key, token: paused[0].token, observedGeneration: nil,
                                                           error: "stale error", retry: .after(seconds: 60), event: nil)],
                                              holder: "paused", now: t0 + 12)
        #expect(stale.fenced.isEmpty && stale.written.isEmpty)
        let current = try await store.writeBack([StatusWrite(key: key, token: active[0].token, observedGeneration: active[0].desiredGeneration,
                                                             error: nil, retry: .none, event: nil)],
                                                holder: "active", now: t0 + 12)
        #expect(current.fenced == [key] && current.written == [key])
        let row = try await pool.query("SELECT observed_generation, last_error FROM instances WHERE key = $1::uuid", [key]).rows[0]
        #expect(try row.decode(Int64.self, "observed_generation") == 1)
        #expect(try row.decode(String.self, "last_error") == nil)
    }

    @Test("a claim skips keys held elsewhere or waiting out a retry time")
    func claimSkipsHeldAndBackedOff() async throws {
        let pool = try await TestDatabase.create()
        let held = try await Fixtures.workspace(pool)
        let backedOff = try await Fixtures.workspace(pool)
        let free = try await Fixtures.workspace(pool)
        let store = ControllerStateStore(table: ControllerTable("instances"), pool: pool)
        let t0 = Date.epoch
        _ = try await store.claim(keys: [held], holder: "other", leaseSeconds: 60, now: t0)
        let failing = try await store.claim(keys: [backedOff], holder: "me", leaseSeconds: 60, now: t0)
        _ = try await store.writeBack([StatusWrite(key: backedOff, token: failing[0].token, observedGeneration: nil,
                                                   error: "boom", retry: .after(seconds: 30), event: nil)], holder: "me", now: t0)
        let claimed = try await store.claim(keys: [held, backedOff, free], holder: "me", leaseSeconds: 60, now: t0 + 1)
        #expect(claimed.map(\.key) == [free])
        let later = try await store.claim(keys: [backedOff], holder: "me", leaseSeconds: 60, now: t0 + 31)
        #expect(later.map(\.key) == [backedOff])
        #expect(later.first?.attempts == 1)
        #expect(later.first?.lastError == "boom")
    }
}
