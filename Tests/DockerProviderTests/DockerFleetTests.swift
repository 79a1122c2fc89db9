import ControllerHost
import Foundation
import Postgres
import PostgresTestSupport
import Providers
import ReconcileStore
import Testing
import WorkspaceModel
import WorkspaceStore

@testable import DockerProvider

/// Replicas and outages on a real Docker Engine.
@Suite(
    "Docker provider: replicas and engine outages",
    .disabled(if: DockerEngine.unavailableReason != nil, Comment(rawValue: DockerEngine.unavailableReason ?? "")))
struct DockerFleetTests {
    @Test("seed 002: two replicas and an operator restart of every workspace leave exactly one container per workspace")
    func seed002TwoReplicas() async throws {
        let world = try await DockerWorld.make()
        var ids: [String] = []
        for name in ["a", "b", "c"] { ids.append(try await world.workspace(name, secret: "s-\(UUID().uuidString)")) }
        let replicas = ["replica-1", "replica-2"].map { world.driver(holder: $0) }
        // Both replicas converge the fleet at the same time, then both see the restarts at once.
        func bothUntilRunning(_ generation: String) async throws -> Bool {
            let deadline = Date().addingTimeInterval(90)
            while Date() < deadline {
                async let one = replicas[0].tick(full: true)
                async let two = replicas[1].tick(full: true)
                _ = try await (one, two)
                var done = true
                for id in ids {
                    let containers = try await world.containers(id)
                    let phase = try await world.phase(id)
                    done = done && phase == "running" && containers.map(\.labels["molecule.generation"]) == [generation]
                }
                if done { return true }
                try await Task.sleep(for: .milliseconds(100))
            }
            return false
        }
        #expect(try await bothUntilRunning("1"))
        try await world.pool.query("UPDATE workspaces SET restart_requests = restart_requests + 1")
        #expect(try await bothUntilRunning("2"))
        for id in ids {
            #expect(try await world.containers(id).count == 1, "workspace \(id)")
            #expect(try await world.events(id).allSatisfy { $0.reason != "DuplicateInstance" })
        }
    }

    @Test("the engine stopped mid-run: the failure names the engine; started again, the workspace runs again in one container")
    func engineStoppedAndStarted() async throws {
        let engine = try await DockerEngine.launch()
        let world = try await DockerWorld.make(engine: engine)
        let id = try await world.workspace("outage", secret: "s-\(UUID().uuidString)")
        try await world.tickUntilRunning(id)
        engine.stop()
        var error = ""
        let said = try await world.tick(
            until: {
                error = try await world.instancesError(id) ?? ""
                return error.contains("Docker Engine at \(engine.socket) does not answer")
            }, seconds: 30)
        #expect(said, "last_error: \(error)")
        try await engine.start()
        let back = try await world.tick(until: {
            let containers = try await world.containers(id)
            let phase = try await world.phase(id)
            return phase == "running" && containers.count == 1 && containers[0].state == "running"
        })
        #expect(back)
        let cleared = try await world.tick(until: { try await world.lastError(id) == nil }, seconds: 20)
        let remaining = try await world.lastError(id) ?? ""
        #expect(cleared, "last_error: \(remaining)")
        try await world.pool.query("UPDATE workspaces SET desired_state = 'deleted' WHERE id = $1::uuid", [id])
        let gone = try await world.tick(until: { try await world.containers(id).isEmpty })
        #expect(gone)
    }
    @Test("on a network of its own, the runtime listens on the container's address and is probed there")
    func namedNetwork() async throws {
        let engine = try await DockerEngine.shared.value
        let network = "mr-net-\(UUID().uuidString.prefix(8))"
        let client = DockerWorld.Engine(engine)
        let created = try await client.send("POST", "/networks/create", json: Data(#"{"Name": "\#(network)"}"#.utf8))
        #expect(created.status == 201)
        let world = try await DockerWorld.make(network: network)
        let id = try await world.workspace("networked", secret: "s-\(UUID().uuidString)")
        try await world.tickUntilRunning(id)
        let container = try #require(try await world.containers(id).first)
        let ip = try #require(container.addresses[network])
        let address = try await world.pool.query("SELECT address FROM instances WHERE key = $1::uuid", [id]).rows[0]
            .decode(String.self, "address")
        #expect(address == "\(ip):8080")
        #expect(container.labels["molecule.port"] == nil)
        try await world.pool.query("UPDATE workspaces SET desired_state = 'deleted' WHERE id = $1::uuid", [id])
        let gone = try await world.tick(until: { try await world.containers(id).isEmpty })
        #expect(gone)
        _ = try await client.send("DELETE", "/networks/\(network)")
    }
}

/// `run` and `tick` refuse a Docker setting that cannot work at start-up, naming it.
@Suite(
    "Docker provider: start-up checks",
    .disabled(if: DockerEngine.unavailableReason != nil, Comment(rawValue: DockerEngine.unavailableReason ?? "")))
struct DockerSetupTests {
    static func tick(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        let pool = try await TestDatabase.create()
        let binary = Bundle.main.executableURL!.deletingLastPathComponent().appendingPathComponent("molecule-reconciler")
        let process = Process()
        process.executableURL = binary
        process.arguments =
            [
                "tick", "--database-url", pool.configuration.conninfo, "--state-dir",
                // A directory of its own: as root, `run`/`tick` set the state directory's mode (0711).
                URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("docker-setup-\(UUID().uuidString)").path,
                "--instances",
                "docker",
            ]
            + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test("molecule-reconciler tick --instances docker, as root, runs each workspace's container as its own uid, not root")
    func tickRunsContainersAsWorkspaceUsers() async throws {
        let engine = try await DockerEngine.shared.value
        let pool = try await TestDatabase.create()
        try await pool.query(#"INSERT INTO templates (name, files) VALUES ('t', '{"config.yaml": "a: 1"}')"#)
        let id = try await pool.query(
            "INSERT INTO workspaces (org, name, template, image) VALUES ('o', 'cli', 't', 'local/agent:1') RETURNING id"
        ).rows[0].require(String.self, "id")
        let state = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("docker-cli-\(UUID().uuidString)")
        let binary = Bundle.main.executableURL!.deletingLastPathComponent().appendingPathComponent("molecule-reconciler")
        func tick() throws -> (status: Int32, text: String) {
            try DockerEngine.run(
                binary.path,
                [
                    "tick", "--until-converged", "--converge-timeout", "60", "--database-url", pool.configuration.conninfo,
                    "--state-dir", state.path, "--instances", "docker", "--docker-socket", engine.socket, "--docker-image",
                    DockerEngine.image, "--docker-stop-grace", "2",
                ])
        }
        let first = try tick()
        #expect(first.status == 0, "\(first.text.suffix(2_000))")
        let client = DockerWorld.Engine(engine)
        let containers = try await client.client.listContainers(labels: ["molecule.workspace=\(id)"])
        #expect(containers.count == 1 && containers.first?.state == "running")
        let name = try #require(containers.first).name
        let inspected = try await client.send("GET", "/containers/\(name)/json")
        let object = try JSONSerialization.jsonObject(with: inspected.body) as? [String: Any]
        let user = (object?["Config"] as? [String: Any])?["User"] as? String ?? ""
        let uid = user.split(separator: ":").first.flatMap { UInt32($0) }
        #expect(uid.map { $0 >= 61_000 } == true, "Config.User is '\(user)'")
        try await pool.query("UPDATE workspaces SET desired_state = 'deleted' WHERE id = $1::uuid", [id])
        let last = try tick()
        #expect(last.status == 0, "\(last.text.suffix(2_000))")
        #expect(try await client.client.listContainers(labels: ["molecule.workspace=\(id)"]).isEmpty)
    }

    @Test(
        "a missing socket, an unknown image and an API version the engine does not speak are start-up errors naming the setting")
    func misconfigurations() async throws {
        let engine = try await DockerEngine.shared.value
        let missing = try await Self.tick(["--docker-socket", "/nonexistent/docker.sock"])
        #expect(missing.status == 1)
        #expect(
            missing.output.contains("error: --docker-socket: no Docker Engine socket at /nonexistent/docker.sock"),
            "\(missing.output)")
        let image = try await Self.tick(["--docker-socket", engine.socket, "--docker-image", "no-such-image:1"])
        #expect(image.status == 1)
        #expect(image.output.contains("error: --docker-image: image no-such-image:1 is not in the engine"), "\(image.output)")
        let version = try await Self.tick(["--docker-socket", engine.socket, "--docker-api-version", "9.99"])
        #expect(version.status == 1)
        #expect(version.output.contains("error: --docker-api-version:"), "\(version.output)")
        let fine = try await Self.tick(["--docker-socket", engine.socket, "--docker-image", DockerEngine.image])
        #expect(fine.status == 0, "\(fine.output)")
    }
}
