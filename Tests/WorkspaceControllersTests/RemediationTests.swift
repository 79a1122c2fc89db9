import ControllerHost
import Foundation
import Logging
import Postgres
import PostgresTestSupport
import ProviderFakes
import ReconcileStore
import Testing
import WorkspaceControllers

/// Seed 000: nothing fails silently, and failed platform workspaces recover by themselves.
@Suite("health, failure surfacing and remediation")
struct RemediationTests {
    static let t0 = Date(timeIntervalSince1970: 1_900_000_000)

    static func lastError(_ world: InstancesTests.World) async throws -> (phase: String, error: String?) {
        let row = try await world.pool.query("SELECT phase, last_error FROM workspaces WHERE id = $1::uuid", [world.workspace])
            .rows[0]
        return (try row.require(String.self, "phase"), try row.decode(String.self, "last_error"))
    }

    @Test("a platform workspace whose runtime never reports is failed with the reason, then recreated by itself")
    func failedPlatformRecovers() async throws {
        let world = try await InstancesTests.world()
        try await world.pool.query("UPDATE workspaces SET kind = 'platform' WHERE id = $1::uuid", [world.workspace])
        _ = try await world.driver().tickUntilConverged(now: Self.t0)
        let first = await world.cloud.live(workspaceID: world.workspace)[0]
        // Ten minutes and more without a heartbeat: failed and surfaced in the same pass...
        _ = try await world.driver().tick(now: Self.t0 + 700, full: true)
        let failed = try await Self.lastError(world)
        #expect(failed.phase == "failed")
        #expect(failed.error == "instances: no runtime heartbeat 600 s after launch of instance \(first.id)")
        #expect(try await RecordedEvents.of(world.workspace, in: world.pool).contains { $0.reason == "RuntimeUnhealthy" })
        // ...and recreated by itself on the retry: a mutation, so a Normal event and an info
        // line (Warnings are for failures).
        let capture = FailureLogTests.Capture()
        let logger = Logger(label: "test") { _ in FailureLogTests.CaptureHandler(capture: capture) }
        _ = try await world.driver(logger: logger).tickUntilConverged(now: Self.t0 + 760)
        let events = try await RecordedEvents.of(world.workspace, in: world.pool)
        #expect(events.contains { $0.reason == "Remediating" && $0.type == .normal })
        #expect(!events.contains { $0.reason == "Remediating" && $0.type == .warning })
        let line = capture.all.first { $0.metadata["reason"] == "Remediating" }
        #expect(line?.level == .info && line?.message == "recorded a Normal event", "\(capture.all.map(\.message))")
        #expect(line?.metadata["message"]?.hasPrefix("recreating the failed workspace (remediation 1)") == true)
        let live = await world.cloud.live(workspaceID: world.workspace)
        #expect(live.count == 1 && live[0].id != first.id && live[0].generation == 2)
        // The new instance reports ready: running, error cleared, budget reset.
        try await world.pool.query(
            """
            INSERT INTO workspace_runtime_status (workspace_id, instance_id, ready, reported_at) VALUES ($1::uuid, $2, true, $3)
            """, [world.workspace, live[0].id, Self.t0 + 710])
        _ = try await world.driver().tick(now: Self.t0 + 720, full: true)
        let healthy = try await Self.lastError(world)
        #expect(healthy.phase == "running")
        #expect(healthy.error == nil)
    }

    @Test("when the remediation budget is spent the workspace stays failed and says so")
    func budgetSpent() async throws {
        let world = try await InstancesTests.world()
        try await world.pool.query("UPDATE workspaces SET kind = 'platform' WHERE id = $1::uuid", [world.workspace])
        var now = Self.t0
        _ = try await world.driver().tickUntilConverged(now: now)
        // Each hour: the missing heartbeat is recorded as a failure, then remediated on the next
        // look, three times; the fourth time the budget is spent.
        for _ in 0..<8 {
            now += 3_600
            _ = try await world.driver().tick(now: now, full: true)
            _ = try await world.driver().tickUntilConverged(now: now)
        }
        #expect(await world.cloud.launches == 4)
        let state = try await Self.lastError(world)
        #expect(state.phase == "failed")
        #expect(state.error?.contains("automatic remediation gave up after 3 attempt(s)") == true)
    }

    @Test("the circuit breaker stops remediation when most of the fleet fails at once, and says why")
    func circuitBreaker() async throws {
        let world = try await InstancesTests.world()
        try await world.pool.query(
            """
            INSERT INTO workspaces (org, name, kind, template, image)
            SELECT 'acme', 'p' || g, 'platform', 'seo-agent', 'agent:1' FROM generate_series(1, 4) g
            """)
        try await world.pool.query("UPDATE workspaces SET kind = 'platform'")
        _ = try await world.driver().tickUntilConverged(now: Self.t0)
        let launched = await world.cloud.launches
        _ = try await world.driver().tick(now: Self.t0 + 700, full: true)
        _ = try await world.driver().tickUntilConverged(now: Self.t0 + 760)
        let paused = try await world.pool.query(
            """
            SELECT count(*) AS n FROM workspaces WHERE last_error LIKE '%automatic remediation paused: 5 of 5 workspaces are failing%'
            """
        ).rows[0].require(Int.self, "n")
        #expect(paused == 5)
        #expect(await world.cloud.launches == launched)
    }
}
