import CurlHTTP
import Foundation
import Providers
import Testing

@testable import LocalProviders

@Suite("local process provider")
struct LocalProcessProviderTests {
    @Test("instances are real runtime processes: idempotent per token, adopted by a new provider, terminated for good")
    func lifecycle() async throws {
        let root = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("lp-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let secrets = FileSecretStore(root: root.appendingPathComponent("secrets"))
        let bundle = #"{"env":{},"files":{"config.yaml":"a: 1"},"instance_generation":"1","instance_token":"tok"}"#
        _ = try await secrets.put(
            name: "molecule/workspace/ws-1/config", value: Data(bundle.utf8), contentHash: "h", versionToken: "v1")
        let runtime = Bundle.main.executableURL!.deletingLastPathComponent().appendingPathComponent("molecule-workspace-runtime")
        func provider() -> LocalProcessProvider {
            LocalProcessProvider(
                directory: root.appendingPathComponent("instances"), runtimeExecutable: runtime,
                secretStoreRoot: secrets.root)
        }
        let spec = InstanceSpec(workspaceID: "ws-1", generation: 1, image: "local", bundleName: "molecule/workspace/ws-1/config")
        let created = try await provider().create(spec)
        #expect(try await provider().create(spec).id == created.id)
        var listed: [InstanceRecord] = []
        for _ in 0..<200 {
            listed = try await provider().list(workspaceID: "ws-1")
            if listed.first?.state == .running { break }
            try await Task.sleep(for: .milliseconds(25))
        }
        // A new provider (a restarted reconciler) finds the same running process.
        #expect(listed.count == 1 && listed[0].state == .running && listed[0].id == created.id)
        // A crash between the spawn and the record's second write leaves a record without a pid:
        // the running process is found by its arguments and adopted, not launched again.
        let recordFile = root.appendingPathComponent("instances/ws-1/\(created.id).json")
        var record = try JSONSerialization.jsonObject(with: Data(contentsOf: recordFile)) as! [String: Any]
        let pid = record["pid"] as! Int
        record["pid"] = 0
        record["startTime"] = nil
        try JSONSerialization.data(withJSONObject: record).write(to: recordFile)
        #expect(try await provider().create(spec).state == .running)
        let adopted = try JSONSerialization.jsonObject(with: Data(contentsOf: recordFile)) as! [String: Any]
        #expect(adopted["pid"] as? Int == pid)
        let address = try #require(listed[0].address)
        #expect(try await CurlHTTPClient().send(.init(url: "http://\(address)/status")).status == 200)
        try await provider().terminate(instanceID: created.id)
        #expect(try await provider().list(workspaceID: "ws-1").map(\.state) == [.terminated])
        #expect(await (try? CurlHTTPClient().send(.init(url: "http://\(address)/status", timeoutMilliseconds: 500))) == nil)
        // The token stays spent: asking again returns the terminated instance, as EC2 does.
        #expect(try await provider().create(spec).state == .terminated)
    }

    @Test("a runtime is spawned with a minimal environment and a session of its own, never the reconciler's")
    func minimalEnvironment() async throws {
        let root = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("lp-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let marker = "MOLECULE_TEST_RECONCILER_SECRET_\(UUID().uuidString.prefix(8))"
        setenv(marker, "postgres://reconciler:hunter2@db/molecule", 1)
        defer { unsetenv(marker) }
        let secrets = FileSecretStore(root: root.appendingPathComponent("secrets"))
        let bundle = #"{"env":{},"files":{"config.yaml":"a: 1"},"instance_token":"tok"}"#
        _ = try await secrets.put(
            name: "molecule/workspace/ws-env/config", value: Data(bundle.utf8), contentHash: "h", versionToken: "v1")
        let provider = LocalProcessProvider(
            directory: root.appendingPathComponent("instances"),
            runtimeExecutable: Bundle.main.executableURL!.deletingLastPathComponent().appendingPathComponent(
                "molecule-workspace-runtime"),
            secretStoreRoot: secrets.root)
        let created = try await provider.create(
            InstanceSpec(
                workspaceID: "ws-env", generation: 1, image: "local",
                bundleName: "molecule/workspace/ws-env/config"))
        defer { Task { try? await provider.terminate(instanceID: created.id) } }
        let record =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: root.appendingPathComponent("instances/ws-env/\(created.id).json"))) as! [String: Any]
        let pid = try #require(record["pid"] as? Int)
        let environ = try Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/environ"))
            .split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
        #expect(!environ.contains { $0.contains(marker) || $0.contains("hunter2") }, "\(environ)")
        #expect(
            environ.sorted() == [
                "HOME=\(root.appendingPathComponent("instances/ws-env").path)", "LANG=C.UTF-8", "PATH=/usr/bin:/bin",
            ])
        // A session and process group of its own: a Ctrl-C or hangup of the reconciler's
        // terminal, sent to the reconciler's group, does not reach the runtime.
        #expect(getsid(pid_t(pid)) == pid_t(pid))
        #expect(getpgid(pid_t(pid)) == pid_t(pid) && getpgid(pid_t(pid)) != getpgrp())
        try await provider.terminate(instanceID: created.id)
    }
}

@Suite("process stat")
struct ProcessStatTests {
    @Test(
        "a zombie or a dead process is dead; a stopped or sleeping one is not; command names with ') (' parse",
        arguments: [
            ("4242 (molecule-workspace-runtime) S 1 4242 4242 0 -1 4194560 200 0 0 0 1 2 0 0 20 0 4 0 12345 100 10 0", false),
            ("4242 (molecule-workspace-runtime) T 1 4242 4242 0 -1 4194560 200 0 0 0 1 2 0 0 20 0 4 0 12345 100 10 0", false),
            ("4242 (molecule-workspace-runtime) Z 1 4242 4242 0 -1 4194560 200 0 0 0 1 2 0 0 20 0 4 0 12345 100 10 0", true),
            ("4242 (odd) (name) X 1 4242 4242 0 -1 4194560 200 0 0 0 1 2 0 0 20 0 4 0 12345 100 10 0", true),
        ])
    func state(_ text: String, dead: Bool) throws {
        let stat = try #require(ProcessStat(text: text))
        #expect(stat.isDead == dead)
        #expect(stat.startTime == "12345")
    }

    @Test("a child that exited and is not reaped is a zombie, and dead")
    func realZombie() throws {
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/bin/true")
        try child.run()
        // Foundation reaps on its own schedule; read the stat before it does, or find it gone.
        let deadline = Date() + 5
        var sawDead = false
        while Date() < deadline, !sawDead {
            if let stat = ProcessStat(pid: child.processIdentifier) { sawDead = stat.isDead } else { sawDead = true }
            usleep(10_000)
        }
        #expect(sawDead)
    }
}
