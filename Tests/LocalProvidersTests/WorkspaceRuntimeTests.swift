import CurlHTTP
import Foundation
import LocalProviders
import Testing

/// The bundled workspace runtime, run as the local provider runs it: a real process on loopback.
@Suite("workspace runtime process")
struct WorkspaceRuntimeTests {
    @Test("it loads its bundle, reports status, accepts plugins only with its instance token, tracks turns, and stops on SIGTERM")
    func lifecycle() async throws {
        let root = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("wr-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let portFile = root.appendingPathComponent("port")
        let process = try await runtime(root: root, portFile: portFile)
        process.standardError = FileHandle.nullDevice
        try process.run()
        var port: Int?
        for _ in 0..<200 where port == nil {
            port = (try? String(contentsOf: portFile, encoding: .utf8)).flatMap {
                Int($0.trimmingCharacters(in: .whitespacesAndNewlines))
            }
            if port == nil { try await Task.sleep(for: .milliseconds(25)) }
        }
        let base = "http://127.0.0.1:\(try #require(port))"
        let client = CurlHTTPClient()
        let status = try await client.send(.init(url: "\(base)/status"))
        #expect(status.status == 200)
        #expect(status.text.contains(#""bundle_hash":"hash-1""#) && status.text.contains(#""ready":true"#))

        #expect(try await client.send(.init(method: "POST", url: "\(base)/turns/begin")).status == 204)
        #expect(try await client.send(.init(url: "\(base)/status")).text.contains("busy_since"))
        #expect(try await client.send(.init(method: "POST", url: "\(base)/turns/end")).status == 204)
        #expect(!(try await client.send(.init(url: "\(base)/status")).text.contains("busy_since")))

        let plugin = Data(#"{"ref":"1.6.1"}"#.utf8)
        let refused = try await client.send(
            .init(
                method: "PUT", url: "\(base)/plugins/molecule-platform-mcp",
                headers: ["Authorization": "Bearer wrong", "Content-Type": "application/json"],
                body: plugin))
        #expect(refused.status == 401)
        let accepted = try await client.send(
            .init(
                method: "PUT", url: "\(base)/plugins/molecule-platform-mcp",
                headers: ["Authorization": "Bearer tok-123", "Content-Type": "application/json"],
                body: plugin))
        #expect(accepted.status == 200)
        let after = try await client.send(.init(url: "\(base)/status")).text
        #expect(after.contains(#""management_mcp_present":true"#) && after.contains(#""molecule-platform-mcp":"1.6.1""#))

        process.terminate()
        process.waitUntilExit()
        #expect(process.terminationReason == .exit && process.terminationStatus == 0)
    }

    @Test("a port file that cannot be written stops the runtime with exit status 1, saying why on stderr")
    func unwritablePortFile() async throws {
        let root = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("wr-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let portFile = root.appendingPathComponent("no-such-directory/port")
        let process = try await runtime(root: root, portFile: portFile)
        let stderr = Pipe()
        process.standardError = stderr
        try process.run()
        let deadline = ContinuousClock.now + .seconds(30)
        while process.isRunning, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(25))
        }
        guard !process.isRunning else {
            process.terminate()
            process.waitUntilExit()
            Issue.record("the runtime kept running without its port file")
            return
        }
        #expect(process.terminationReason == .exit && process.terminationStatus == 1)
        let message = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(message.contains("cannot write the port file \(portFile.path)"), "stderr: \(message)")
    }

    /// The runtime process (not started) over a staged bundle whose instance token is `tok-123`.
    private func runtime(root: URL, portFile: URL) async throws -> Process {
        let store = FileSecretStore(root: root.appendingPathComponent("secrets"))
        let bundle =
            #"{"env":{"API_KEY":"k"},"files":{"config.yaml":"a: 1"},"instance_generation":"1","instance_token":"tok-123"}"#
        _ = try await store.put(
            name: "molecule/workspace/ws/config", value: Data(bundle.utf8), contentHash: "hash-1",
            versionToken: "v1")
        let process = Process()
        process.executableURL = Bundle.main.executableURL!.deletingLastPathComponent().appendingPathComponent(
            "molecule-workspace-runtime")
        process.arguments = [
            "--secret-store", store.root.path, "--bundle", "molecule/workspace/ws/config",
            "--port-file", portFile.path,
        ]
        process.standardOutput = FileHandle.nullDevice
        return process
    }
}
