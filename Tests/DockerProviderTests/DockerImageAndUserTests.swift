import ControllerHost
import Foundation
import LocalProviders
import Postgres
import PostgresTestSupport
import Providers
import Testing
import WorkspaceModel

@testable import DockerProvider

/// The workspace row's image, and the user a container runs as.
@Suite(
    "Docker provider: the row's image and a user per workspace",
    .disabled(if: DockerEngine.unavailableReason != nil, Comment(rawValue: DockerEngine.unavailableReason ?? "")))
struct DockerImageAndUserTests {
    /// `Config.Image` and `Config.User` of a container, as `docker inspect` shows them.
    static func config(_ world: DockerWorld, _ name: String) async throws -> (image: String, user: String) {
        let object = try JSONSerialization.jsonObject(with: Data(try await world.inspect(name).utf8)) as? [String: Any]
        let config = object?["Config"] as? [String: Any]
        return (config?["Image"] as? String ?? "", config?["User"] as? String ?? "")
    }

    @Test(
        "a workspace runs the image its row names; an image the engine lacks fails that key alone, naming the field; an image change is a new generation"
    )
    func rowImage() async throws {
        let world = try await DockerWorld.make()
        let client = DockerWorld.Engine(world.engine)
        let tag = "row-\(UUID().uuidString.prefix(8).lowercased())"
        let tagged = try await client.send("POST", "/images/\(DockerEngine.image)/tag?repo=mr-row-image&tag=\(tag)")
        #expect(tagged.status == 201)
        let image = "mr-row-image:\(tag)"
        let good = try await world.workspace("own-image", secret: "s-\(UUID().uuidString)", image: image)
        let missing = "mr-no-such-image:\(tag)"
        let bad = try await world.workspace("missing-image", secret: "s-\(UUID().uuidString)", image: missing)

        // In the same passes the good workspace runs its image and the bad one says why it cannot.
        var error = ""
        let both = try await world.tick(until: {
            error = try await world.lastError(bad) ?? ""
            return try await world.phase(good) == "running" && error.contains("not in the engine")
        })
        let goodPhase = try await world.phase(good)
        #expect(both, "good: \(goodPhase); bad: \(error)")
        #expect(error.contains("image \(missing) (workspaces.image) is not in the engine"), "\(error)")
        #expect(try await world.containers(bad).isEmpty)
        let first = try #require(try await world.containers(good).first)
        #expect(try await Self.config(world, first.name).image == image)

        // The bad row is given an image the engine has: a new generation, and it runs.
        try await world.pool.query("UPDATE workspaces SET image = $2 WHERE id = $1::uuid", [bad, image])
        try await world.tickUntilRunning(bad)
        let cleared = try await world.tick(until: { try await world.lastError(bad) == nil }, seconds: 20)
        let remaining = try await world.lastError(bad) ?? ""
        #expect(cleared, "last_error: \(remaining)")
        #expect(try await Self.config(world, try #require(try await world.containers(bad).first).name).image == image)
        // The good row moves to the provider's own image (`local/...` means --docker-image).
        try await world.pool.query("UPDATE workspaces SET image = 'local/agent:2' WHERE id = $1::uuid", [good])
        let moved = try await world.tick(until: {
            let now = try await world.containers(good)
            let phase = try await world.phase(good)
            return phase == "running" && now.count == 1 && now[0].name != first.name
        })
        #expect(moved)
        let second = try #require(try await world.containers(good).first)
        #expect(second.labels["molecule.generation"] == "2")
        #expect(try await Self.config(world, second.name).image == DockerEngine.image)
        let report = try await world.driver().checkIdempotent()
        #expect(report.passed, "\(report.rowWrites) \(report.mutatingActions) \(report.check.failures)")
    }

    @Test(
        "a container runs as its workspace's own uid, reads its own bundle, and sees neither another workspace's bundle nor the state directory"
    )
    func nonRootAndConfined() async throws {
        let world = try await DockerWorld.make()
        try world.engine.buildProbeImage()
        let secret = "sk-own-\(UUID().uuidString)"
        let a = try await world.workspace("a", secret: secret, image: DockerEngine.probeImage)
        let b = try await world.workspace("b", secret: "sk-other-\(UUID().uuidString)", image: DockerEngine.probeImage)
        try await world.tickUntilRunning(a)
        try await world.tickUntilRunning(b)
        let userA = try world.users.user(for: a)
        let userB = try world.users.user(for: b)
        #expect(userA.uid != 0 && userA.uid != userB.uid)
        let container = try #require(try await world.containers(a).first).name
        #expect(try await Self.config(world, container).user == "\(userA.uid):\(userA.gid)")

        let id = try await world.exec(container, ["/usr/bin/id", "-u"])
        #expect(id.status == 0 && id.output.trimmingCharacters(in: .whitespacesAndNewlines) == String(userA.uid), "\(id)")
        // Its own bundle: the pointer and the version it names are readable.
        let own =
            "\(DockerSettings.containerSecretStore)/\(DockerInstanceProvider.bundleDirectoryName(WorkspaceBundle.secretName(workspaceID: a)))"
        let pointer = try await world.exec(container, ["/usr/bin/cat", "\(own)/current"])
        #expect(pointer.status == 0, "\(pointer)")
        let version = try #require(pointer.output.split(separator: "\n").first.map(String.init))
        let bundle = try await world.exec(container, ["/usr/bin/cat", "\(own)/versions/\(version)"])
        #expect(bundle.status == 0 && bundle.output.contains(secret), "reading its own bundle: exit \(bundle.status)")
        // Only its own bundle is there; another's, and the state directory, are not.
        let listed = try await world.exec(container, ["/usr/bin/ls", "-a", DockerSettings.containerSecretStore])
        #expect(
            listed.output.split(separator: "\n").filter { $0 != "." && $0 != ".." }
                == [Substring(DockerInstanceProvider.bundleDirectoryName(WorkspaceBundle.secretName(workspaceID: a)))],
            "\(listed)")
        let otherBundle = world.secrets.root.appendingPathComponent(
            DockerInstanceProvider.bundleDirectoryName(WorkspaceBundle.secretName(workspaceID: b))
        ).appendingPathComponent("current").path
        for path in [
            otherBundle,
            "\(DockerSettings.containerSecretStore)/\(DockerInstanceProvider.bundleDirectoryName(WorkspaceBundle.secretName(workspaceID: b)))/current",
            world.state.path, world.state.appendingPathComponent("users").path,
        ] {
            let read = try await world.exec(container, ["/usr/bin/ls", path])
            #expect(read.status != 0, "\(path) is visible from workspace a's container: \(read.output)")
        }
        // On the host, b's bundle is b's group's alone (so a's uid could not read it even if mounted).
        var info = stat()
        #expect(stat(otherBundle, &info) == 0)
        #expect(info.st_gid == userB.gid && info.st_mode & 0o777 == 0o640 && info.st_uid != userA.uid)
        for event in try await world.events(a) { #expect(!event.message.contains(secret)) }
        #expect(!(try await world.inspect(container)).contains(secret))
    }
}
