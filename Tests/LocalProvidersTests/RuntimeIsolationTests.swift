import CurlHTTP
import Foundation
import Providers
import Testing

@testable import LocalProviders

/// Runtimes as users of their own, for real: these tests switch users, so they need root (CI
/// runs as root). What a runtime may open is tried with `open(2)` as its user (`setpriv`, then
/// `cat`/`ls`, whose "Permission denied" is EACCES's text).
@Suite("runtime isolation", .enabled(if: geteuid() == 0, "switching users needs root"))
struct RuntimeIsolationTests {
    static let runtime = Bundle.main.executableURL!.deletingLastPathComponent().appendingPathComponent(
        "molecule-workspace-runtime")

    /// A state directory laid out as the CLI lays it out, with its users' table.
    struct World {
        let state: URL
        let users: RuntimeUserTable
        let secrets: FileSecretStore
        let provider: LocalProcessProvider

        init() throws {
            state = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("iso-\(UUID().uuidString)")
            let isolation = RuntimeIsolation.detect(stateDirectory: state, uids: 61_000...65_000, required: true)
            guard case .perWorkspaceUser(let users) = isolation else {
                throw RuntimeUserTable.Failure(description: "no isolation: \(isolation.summary)")
            }
            try isolation.prepare(stateDirectory: state)
            self.users = users
            secrets = FileSecretStore(
                root: state.appendingPathComponent("secrets"),
                reader: { name in
                    let parts = name.split(separator: "/")
                    return parts.count == 4 ? try users.user(for: String(parts[2])) : nil
                })
            provider = LocalProcessProvider(
                directory: state.appendingPathComponent("instances"), runtimeExecutable: RuntimeIsolationTests.runtime,
                secretStoreRoot: secrets.root, isolation: isolation)
        }

        func bundleName(_ workspace: String) -> String { "molecule/workspace/\(workspace)/config" }

        func stage(_ workspace: String) async throws {
            let bundle =
                #"{"env":{"K":"secret-of-\#(workspace)"},"files":{"config.yaml":"a: 1"},"instance_token":"tok-\#(workspace)"}"#
            _ = try await secrets.put(
                name: bundleName(workspace), value: Data(bundle.utf8), contentHash: "h-\(workspace)", versionToken: "v1")
        }

        /// Creates the workspace's instance and waits until it serves.
        func start(_ workspace: String) async throws -> InstanceRecord {
            let created = try await provider.create(
                InstanceSpec(workspaceID: workspace, generation: 1, image: "local", bundleName: bundleName(workspace)))
            for _ in 0..<400 {
                if let running = try await provider.list(workspaceID: workspace).first(where: { $0.state == .running }) {
                    return running
                }
                try await Task.sleep(for: .milliseconds(25))
            }
            throw RuntimeUserTable.Failure(description: "\(created.id) never ran")
        }

        func path(_ relative: String) -> String { state.appendingPathComponent(relative).path }

        func cleanUp(_ instances: [InstanceRecord]) async {
            for instance in instances { try? await provider.terminate(instanceID: instance.id) }
            try? FileManager.default.removeItem(at: state)
        }
    }

    /// Runs `arguments` as `user` (no supplementary groups): exit status and output.
    static func run(as user: RuntimeUser, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        process.arguments = ["--reuid", String(user.uid), "--regid", String(user.gid), "--clear-groups", "--"] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, output)
    }

    /// Owner, group and permission bits.
    static func access(_ path: String) throws -> (uid: uid_t, gid: gid_t, mode: mode_t) {
        var info = stat()
        guard lstat(path, &info) == 0 else { throw RuntimeUserTable.Failure(description: "no \(path)") }
        return (info.st_uid, info.st_gid, info.st_mode & 0o7777)
    }

    /// The real, effective, saved and file-system ids of a thread (its `status` file), and its
    /// supplementary groups.
    static func credentials(path: String) throws -> (uids: [String], gids: [String], groups: String) {
        let status = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        func fields(_ name: String) -> [String] {
            status.first { $0.hasPrefix("\(name):") }.map {
                $0.split(whereSeparator: \.isWhitespace).dropFirst().map(String.init)
            }
                ?? []
        }
        return (fields("Uid"), fields("Gid"), fields("Groups").joined(separator: " "))
    }

    @Test(
        "a workspace's runtime runs as its own user, reads its own bundle, and opens nothing of B's, the tunnels' or the state directory"
    )
    func runtimesCannotReadEachOther() async throws {
        let world = try World()
        try await world.stage("ws-a")
        try await world.stage("ws-b")
        try await FileTunnelConfigStore(root: world.state.appendingPathComponent("tunnels")).write(
            tunnelID: "tunnel-1", TunnelConfiguration(ingress: [IngressRule(service: "http_status:404")]))
        let a = try await world.start("ws-a")
        let b = try await world.start("ws-b")
        defer { Task { await world.cleanUp([a, b]) } }
        let userA = try world.users.user(for: "ws-a")
        let userB = try world.users.user(for: "ws-b")
        #expect(userA != userB)
        #expect((61_000...65_000).contains(userA.uid) && userA.gid == userA.uid)

        // The process itself: every uid and gid are A's, no supplementary group, no way back.
        let record =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: URL(fileURLWithPath: world.path("instances/ws-a/\(a.id).json")))) as! [String: Any]
        // Every thread: the kernel switches only the thread that asks.
        let pid = try #require(record["pid"] as? Int32)
        let threads = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")
        #expect(!threads.isEmpty)
        for thread in threads {
            let credentials = try Self.credentials(path: "/proc/\(pid)/task/\(thread)/status")
            #expect(credentials.uids == Array(repeating: String(userA.uid), count: 4), "thread \(thread)")
            #expect(credentials.gids == Array(repeating: String(userA.gid), count: 4), "thread \(thread)")
            #expect(credentials.groups.isEmpty)
        }
        // It loaded its bundle (it serves, with the bundle's hash), and A can open its bundle.
        let status = try await CurlHTTPClient().send(.init(url: "http://\(try #require(a.address))/status"))
        #expect(status.status == 200 && String(decoding: status.body, as: UTF8.self).contains("h-ws-a"))
        let bundleA = "secrets/molecule%2Fworkspace%2Fws-a%2Fconfig"
        let bundleB = "secrets/molecule%2Fworkspace%2Fws-b%2Fconfig"
        let own = try Self.run(as: userA, ["/bin/cat", world.path("\(bundleA)/versions/v1")])
        #expect(own.status == 0 && own.output.contains("secret-of-ws-a"))
        #expect(try Self.run(as: userA, ["/bin/ls", world.path("instances/ws-a/home")]).status == 0)

        // Everything else: EACCES.
        let files = [
            "\(bundleB)/versions/v1", "\(bundleB)/current", "tunnels/tunnel-1/config.yml",
            "instances/ws-b/\(b.id).json", "instances/ws-b/\(b.id).log", "instances/ws-b/home/\(b.id).port",
            "instances/ws-a/\(a.id).json", "instances/ws-a/\(a.id).log",
            "users/by-workspace/ws-b", "users/by-uid/\(userB.uid)",
        ]
        for file in files {
            let attempt = try Self.run(as: userA, ["/bin/cat", world.path(file)])
            #expect(attempt.status != 0 && attempt.output.contains("Permission denied"), "\(file): \(attempt.output)")
        }
        let directories = ["", "secrets", "instances", "tunnels", "users", bundleB, "instances/ws-b", "instances/ws-b/home"]
        for directory in directories {
            let attempt = try Self.run(as: userA, ["/bin/ls", world.path(directory)])
            #expect(attempt.status != 0 && attempt.output.contains("Permission denied"), "\(directory): \(attempt.output)")
        }
        // And A cannot write where the reconciler writes (its own workspace's records and logs).
        let write = try Self.run(as: userA, ["/bin/touch", world.path("instances/ws-a/forged.json")])
        #expect(write.status != 0 && write.output.contains("Permission denied"))
    }

    @Test("owners and modes are as documented on RuntimeIsolation")
    func ownersAndModes() async throws {
        let world = try World()
        try await world.stage("ws-a")
        let a = try await world.start("ws-a")
        defer { Task { await world.cleanUp([a]) } }
        let user = try world.users.user(for: "ws-a")
        let bundle = "secrets/molecule%2Fworkspace%2Fws-a%2Fconfig"
        let expected: [(String, uid_t, gid_t, mode_t)] = [
            ("", 0, 0, 0o711), ("secrets", 0, 0, 0o711), ("instances", 0, 0, 0o711), ("tunnels", 0, 0, 0o700),
            ("users", 0, 0, 0o700), (bundle, 0, user.gid, 0o750), ("\(bundle)/versions", 0, user.gid, 0o750),
            ("\(bundle)/current", 0, user.gid, 0o640), ("\(bundle)/versions/v1", 0, user.gid, 0o640),
            ("instances/ws-a", 0, user.gid, 0o710), ("instances/ws-a/\(a.id).json", 0, 0, 0o600),
            ("instances/ws-a/\(a.id).log", 0, 0, 0o600), ("instances/ws-a/home", user.uid, user.gid, 0o700),
        ]
        for (path, uid, gid, mode) in expected {
            let actual = try Self.access(world.path(path))
            #expect(actual.uid == uid && actual.gid == gid && actual.mode == mode, "\(path): \(actual)")
        }
        #expect(try Self.access(world.path("instances/ws-a/home/\(a.id).port")).uid == user.uid)
    }

    @Test("a bundle staged before isolation was on is let in for its runtime at create")
    func bundleStagedBeforeIsolation() async throws {
        let world = try World()
        // Staged by a store without a reader: 0700/0600, the reconciler's alone.
        let plain = FileSecretStore(root: world.state.appendingPathComponent("secrets"))
        _ = try await plain.put(
            name: world.bundleName("ws-old"), value: Data(#"{"env":{},"files":{},"instance_token":"t"}"#.utf8),
            contentHash: "h-old", versionToken: "v1")
        let a = try await world.start("ws-old")
        defer { Task { await world.cleanUp([a]) } }
        let user = try world.users.user(for: "ws-old")
        #expect(try Self.access(world.path("secrets/molecule%2Fworkspace%2Fws-old%2Fconfig/current")).gid == user.gid)
    }

    @Test("isolation required but unavailable: no runtime is started, and the error names the setting")
    func requiredButUnavailable() async throws {
        let root = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("iso-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let provider = LocalProcessProvider(
            directory: root.appendingPathComponent("instances"), runtimeExecutable: Self.runtime,
            secretStoreRoot: root.appendingPathComponent("secrets"),
            isolation: .unavailable(reason: "the reconciler runs as uid 1000, not root, and cannot switch users", required: true))
        let error = await #expect(throws: ProviderError.self) {
            _ = try await provider.create(
                InstanceSpec(workspaceID: "ws-r", generation: 1, image: "local", bundleName: "molecule/workspace/ws-r/config"))
        }
        #expect(error?.message.contains("--require-isolation") == true)
        #expect(error?.message.contains("MOLECULE_REQUIRE_ISOLATION") == true)
        #expect(error?.isTerminal == false)
        #expect(try await provider.list(workspaceID: "ws-r").isEmpty)
        #expect(!FileManager.default.fileExists(atPath: root.appendingPathComponent("instances/ws-r").path))
    }

    @Test("a state directory below a directory others cannot pass: no isolation, and why")
    func closedAncestor() throws {
        let closed = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("iso-\(UUID().uuidString)")
        try FileManager.default.createDirectory(
            at: closed, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(at: closed) }
        let isolation = RuntimeIsolation.detect(
            stateDirectory: closed.appendingPathComponent("state"), uids: 61_000...65_000, required: false)
        guard case .unavailable(let reason, false) = isolation else {
            Issue.record("isolation despite a closed ancestor")
            return
        }
        #expect(reason.contains(closed.path) && reason.contains("o+x"))
    }

    @Test("a state directory others may write into, or another user's, is refused and left as it was")
    func sharedStateDirectory() throws {
        let base = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("iso-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: base) }
        let isolation = RuntimeIsolation.detect(stateDirectory: base, uids: 61_000...65_000, required: false)
        guard case .perWorkspaceUser = isolation else {
            Issue.record("no isolation: \(isolation.summary)")
            return
        }
        for (mode, owner) in [(mode_t(0o1777), geteuid()), (0o775, geteuid()), (0o700, uid_t(61_999))] {
            #expect(chmod(base.path, mode) == 0 && lchown(base.path, owner, getegid()) == 0)
            #expect(throws: RuntimeIsolation.SharedStateDirectory.self) { try isolation.prepare(stateDirectory: base) }
            var info = stat()
            #expect(lstat(base.path, &info) == 0)
            #expect(info.st_mode & 0o7777 == mode && info.st_uid == owner, "the refused directory was changed")
            #expect(!FileManager.default.fileExists(atPath: base.appendingPathComponent("secrets").path))
        }
        #expect(lchown(base.path, geteuid(), getegid()) == 0 && chmod(base.path, 0o700) == 0)
        try isolation.prepare(stateDirectory: base)
        #expect(FileManager.default.fileExists(atPath: base.appendingPathComponent("secrets").path))
    }
}
