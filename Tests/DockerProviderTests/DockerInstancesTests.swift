import ControllerHost
import Foundation
import LocalProviders
import Postgres
import PostgresTestSupport
import Providers
import Testing
import WorkspaceModel
import WorkspaceStore

@testable import DockerProvider

/// The instances, secrets-bundle and plugins controllers on a real Docker Engine (a private
/// dockerd the suite starts), with the workspace image built by `scripts/build-workspace-image`.
@Suite(
    "Docker provider on a real engine",
    .disabled(if: DockerEngine.unavailableReason != nil, Comment(rawValue: DockerEngine.unavailableReason ?? "")))
struct DockerInstancesTests {
    @Test(
        "a workspace runs as one container holding no secret in its configuration; plugins arrive; a second pass does nothing; restart, stop and delete"
    )
    func lifecycle() async throws {
        let world = try await DockerWorld.make()
        let secret = "sk-docker-\(UUID().uuidString)"
        let id = try await world.workspace("w", secret: secret)
        try await world.pool.query(
            "INSERT INTO workspace_declared_plugins (workspace_id, plugin, ref) VALUES ($1::uuid, 'web-search', '2.4.0')", [id])
        try await world.tickUntilRunning(id)
        let first = try await world.containers(id)
        #expect(first.count == 1 && first.first?.state == "running")
        let token = try await world.instanceToken(id)
        for container in first {
            let inspected = try await world.inspect(container.name)
            #expect(!inspected.contains(secret), "docker inspect shows the secret")
            #expect(!inspected.contains(token), "docker inspect shows the instance token")
            #expect(inspected.contains(#""RestartPolicy":{"Name":"no""#))
            #expect(inspected.contains(#""ReadOnly":true"#))
        }
        // The plugin reached the runtime in the container.
        let delivered = try await world.tick(until: {
            guard let record = try await world.provider.list(workspaceID: id).first(where: { $0.state == .running }) else {
                return false
            }
            return try await HTTPRuntimeProbe().status(of: record)?.plugins["web-search"] == "2.4.0"
        })
        #expect(delivered)
        let report = try await world.driver().checkIdempotent()
        #expect(report.passed, "\(report.rowWrites) \(report.mutatingActions) \(report.check.failures)")

        // An operator's restart: a new generation, a new token, the old container gone.
        try await world.pool.query("UPDATE workspaces SET restart_requests = restart_requests + 1 WHERE id = $1::uuid", [id])
        let restarted = try await world.tick(until: {
            let now = try await world.containers(id)
            let phase = try await world.phase(id)
            return phase == "running" && now.count == 1 && now[0].name != first[0].name
        })
        #expect(restarted)
        #expect(try await world.containers(id).map(\.labels["molecule.generation"]) == ["2"])
        #expect(try await world.instanceToken(id) != token)

        try await world.pool.query("UPDATE workspaces SET desired_state = 'stopped' WHERE id = $1::uuid", [id])
        let stopped = try await world.tick(until: {
            let none = try await world.containers(id).isEmpty
            let phase = try await world.phase(id)
            return none && phase == "stopped"
        })
        #expect(stopped)
        try await world.pool.query("UPDATE workspaces SET desired_state = 'running' WHERE id = $1::uuid", [id])
        try await world.tickUntilRunning(id)
        try await world.pool.query("UPDATE workspaces SET desired_state = 'deleted' WHERE id = $1::uuid", [id])
        let deleted = try await world.tick(until: {
            let none = try await world.containers(id).isEmpty
            let phase = try await world.phase(id)
            return none && phase == "deleted"
        })
        #expect(deleted)
    }

    @Test("a container made by a create whose record was lost (or never started) is adopted, not duplicated")
    func adoptsLostCreate() async throws {
        let world = try await DockerWorld.make()
        let id = try await world.workspace("adopt", secret: "s-\(UUID().uuidString)")
        // Stage the bundle, then make the container the reconciler would, without its record:
        // created and never started (a reconciler SIGKILLed between create and start).
        try await world.stageBundle(id)
        let spec = InstanceSpec(
            workspaceID: id, generation: 1, image: "local/agent:1", bundleName: WorkspaceBundle.secretName(workspaceID: id),
            owner: world.owner)
        let name = try DockerInstanceProvider.containerName(spec.idempotencyToken)
        _ = try await world.provider.engine.createContainer(
            name: name,
            body: try world.provider.containerConfig(
                spec, image: world.provider.image(for: spec).name, user: try world.provider.user(for: spec)),
            image: world.provider.image(for: spec))
        try await world.tickUntilRunning(id)
        let containers = try await world.containers(id)
        #expect(containers.map(\.name) == [name])
        #expect(try await world.events(id).contains { $0.reason == "InstanceCreated" || $0.reason == "InstanceAdopted" })

        // Created and started, the reconciler killed before it recorded it: adopted as it runs.
        let running = try await world.workspace("adopt-running", secret: "s-\(UUID().uuidString)")
        try await world.stageBundle(running)
        let launched = try await world.provider.create(
            InstanceSpec(
                workspaceID: running, generation: 1, image: "local/agent:1",
                bundleName: WorkspaceBundle.secretName(workspaceID: running), owner: world.owner))
        try await world.tickUntilRunning(running)
        #expect(try await world.containers(running).map(\.name) == [launched.id])
        #expect(try await world.events(running).contains { $0.reason == "InstanceAdopted" })
        #expect(try await world.events(running).allSatisfy { $0.reason != "InstanceCreated" })
    }

    @Test("a container killed behind the reconciler's back is replaced by the next generation, and the event says how it ended")
    func killedContainerIsReplaced() async throws {
        let world = try await DockerWorld.make()
        let id = try await world.workspace("killed", secret: "s-\(UUID().uuidString)")
        try await world.tickUntilRunning(id)
        let victim = try await world.containers(id)[0].name
        let killed = try await world.provider.engine.send("POST", "/containers/\(victim)/kill", operation: "test")
        #expect(killed.status == 204)
        let replaced = try await world.tick(until: {
            let now = try await world.containers(id)
            let phase = try await world.phase(id)
            return phase == "running" && now.count == 1 && now[0].name != victim
        })
        #expect(replaced)
        let lost = try await world.events(id).first { $0.reason == "InstanceLost" }
        #expect(lost?.message.contains("exit code 137") == true, "\(String(describing: lost))")
        #expect(try await world.containers(id).map(\.labels["molecule.generation"]) == ["2"])
    }

    @Test("a container that exits at boot is reported with its exit code and the end of its log, never a secret")
    func exitAtBoot() async throws {
        let world = try await DockerWorld.make()
        let secret = "sk-boot-\(UUID().uuidString)"
        let id = try await world.workspace("boot", secret: secret)
        try await world.stageBundle(id)
        // The staged version is made unreadable behind the store's back: the runtime cannot
        // load its bundle and exits 1.
        let directory = world.secrets.root.appendingPathComponent(
            WorkspaceBundle.secretName(workspaceID: id).replacingOccurrences(of: "/", with: "%2F")
        ).appendingPathComponent("versions")
        for version in try FileManager.default.contentsOfDirectory(atPath: directory.path) {
            try Data(#"{"files": "\#(secret)"}"#.utf8).write(to: directory.appendingPathComponent(version))
        }
        var message = ""
        let reported = try await world.tick(until: {
            message = try await world.lastError(id) ?? ""
            return message.contains("exit code")
        })
        #expect(reported, "last_error: \(message)")
        #expect(message.contains("exit code 1"))
        #expect(message.contains("last log lines:"))
        #expect(!message.contains(secret))
        for event in try await world.events(id) { #expect(!event.message.contains(secret)) }
        #expect(try await world.events(id).contains { $0.reason == "InstanceLost" && $0.message.contains("exit code 1") })
    }

    @Test("the orphan sweep removes the containers of a workspace row deleted outright, and only this database's")
    func orphanSweep() async throws {
        let world = try await DockerWorld.make()
        let other = try await DockerWorld.make()
        let id = try await world.workspace("orphan", secret: "s-\(UUID().uuidString)")
        let kept = try await other.workspace("kept", secret: "s-\(UUID().uuidString)")
        try await world.tickUntilRunning(id)
        try await other.tickUntilRunning(kept)
        try await world.pool.query("DELETE FROM workspaces WHERE id = $1::uuid", [id])
        _ = try await world.driver().tick()
        #expect(try await world.containers(id).isEmpty)
        #expect(try await other.containers(kept).count == 1)
        #expect(try await world.events(id).contains { $0.reason == "OrphanTerminated" })
        try await other.pool.query("UPDATE workspaces SET desired_state = 'deleted' WHERE id = $1::uuid", [kept])
        let gone = try await other.tick(until: { try await other.containers(kept).isEmpty })
        #expect(gone)
    }
}
