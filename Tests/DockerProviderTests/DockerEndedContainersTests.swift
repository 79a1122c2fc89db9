import ControllerHost
import Foundation
import Postgres
import PostgresTestSupport
import Providers
import ReconcileRuntime
import ReconcileStore
import Testing
import WorkspaceControllers
import WorkspaceModel
import WorkspaceStore

@testable import DockerProvider

/// Exited containers nothing wants are removed; the current generation's stays until the
/// instances controller has read how it ended.
@Suite(
    "Docker provider: ended containers are collected",
    .disabled(if: DockerEngine.unavailableReason != nil, Comment(rawValue: DockerEngine.unavailableReason ?? "")))
struct DockerEndedContainersTests {
    /// Kills the workspace's container and waits until the engine says it exited.
    static func kill(_ world: DockerWorld, _ id: String) async throws -> String {
        let name = try #require(try await world.containers(id).first).name
        let killed = try await world.provider.engine.send("POST", "/containers/\(name)/kill", operation: "test")
        #expect(killed.status == 204)
        for _ in 0..<200 {
            if try await world.provider.engine.inspectContainer(name)?.state == "exited" { return name }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("container \(name) did not exit")
        return name
    }

    @Test(
        "the exited containers of a stopped, a deleted, a gone and a restarted workspace are removed; a second pass removes nothing"
    )
    func collectsEnded() async throws {
        let world = try await DockerWorld.make()
        var ids: [String: String] = [:]
        for name in ["stopped", "deleted", "gone", "restarted"] {
            ids[name] = try await world.workspace(name, secret: "s-\(UUID().uuidString)")
        }
        for id in ids.values { try await world.tickUntilRunning(id) }
        // Each container exits behind the reconciler's back, and before it looks again its
        // workspace moves on: nothing will ever adopt these containers.
        var exited: [String: String] = [:]
        for (name, id) in ids { exited[name] = try await Self.kill(world, id) }
        try await world.pool.query("UPDATE workspaces SET desired_state = 'stopped' WHERE id = $1::uuid", [ids["stopped"]!])
        try await world.pool.query("UPDATE workspaces SET desired_state = 'deleted' WHERE id = $1::uuid", [ids["deleted"]!])
        try await world.pool.query("DELETE FROM workspaces WHERE id = $1::uuid", [ids["gone"]!])
        try await world.pool.query(
            "UPDATE workspaces SET restart_requests = restart_requests + 1 WHERE id = $1::uuid", [ids["restarted"]!])

        let collected = try await world.tick(until: {
            for name in ["stopped", "deleted", "gone"] where !(try await world.containers(ids[name]!).isEmpty) {
                return false
            }
            let restarted = try await world.containers(ids["restarted"]!)
            let phase = try await world.phase(ids["restarted"]!)
            return phase == "running" && restarted.map(\.labels["molecule.generation"]) == ["2"]
        })
        for name in ["stopped", "deleted", "gone", "restarted"] {
            let left = try await world.containers(ids[name]!).map { "\($0.name) \($0.state)" }
            #expect(!left.contains { $0.hasPrefix(exited[name]! + " ") }, "\(name): \(left)")
        }
        #expect(collected)
        let removed = try await world.events(ids["restarted"]!).first { $0.reason == "EndedInstanceRemoved" }
        #expect(removed?.message.contains("generation 1 was replaced by generation 2") == true, "\(String(describing: removed))")
        #expect(try await world.events(ids["gone"]!).contains { $0.reason == "EndedInstanceRemoved" })

        // Converged: the sweep lists, and removes nothing.
        let report = try await world.driver().checkIdempotent()
        #expect(report.passed, "\(report.rowWrites) \(report.mutatingActions) \(report.check.failures)")
    }

    @Test("the sweep keeps the exited container of a running workspace's current generation for the controller")
    func keepsCurrentGeneration() async throws {
        let world = try await DockerWorld.make()
        let id = try await world.workspace("crashed", secret: "s-\(UUID().uuidString)")
        try await world.tickUntilRunning(id)
        let name = try await Self.kill(world, id)
        let sweeper = OrphanSweeper(
            instances: InstanceStore(pool: world.pool), events: EventStore(pool: world.pool), provider: world.provider,
            owner: world.owner)
        #expect(try await sweeper.sweep(now: nil, actions: ActionLog()) == 0)
        #expect(try await world.containers(id).map(\.name) == [name])
        // The controller reads how it ended, then replaces it.
        let replaced = try await world.tick(until: {
            let now = try await world.containers(id)
            let phase = try await world.phase(id)
            return phase == "running" && now.count == 1 && now[0].name != name
        })
        #expect(replaced)
        let lost = try await world.events(id).first { $0.reason == "InstanceLost" }
        #expect(lost?.message.contains("exit code 137") == true, "\(String(describing: lost))")
    }
}
