import CurlHTTP
import Foundation
import Synchronization

/// A private Docker Engine for the tests: `dockerd` on its own data root and unix socket, with
/// no iptables and no bridge (containers use the host's network), as root. One is shared by
/// the suite (`DockerEngine.shared`); a test that stops the engine starts its own. Each is
/// stopped, and its directory removed, when the test process exits.
final class DockerEngine: Sendable {
    let directory: URL
    private let pid = Mutex<pid_t>(0)

    var socket: String { directory.appendingPathComponent("d.sock").path }
    var host: String { "unix://\(socket)" }

    /// The workspace image every engine gets, built by `scripts/build-workspace-image`.
    static let image = "molecule-workspace:test"

    /// Why no engine can run here (nil when one can): the tests are then disabled with this
    /// reason, never passed silently. CI runs as root with docker.io installed.
    static let unavailableReason: String? = {
        guard getuid() == 0 else { return "the Docker tests start a private dockerd, which needs root" }
        guard executable("dockerd") != nil else { return "no dockerd on PATH (scripts/install-deps installs docker.io)" }
        guard executable("docker") != nil else { return "no docker CLI on PATH to build the workspace image" }
        return nil
    }()

    /// The suite's engine, started once, with the workspace image built into it.
    static let shared: Task<DockerEngine, any Error> = Task { try await DockerEngine.launch() }

    /// A new engine with the workspace image.
    static func launch() async throws -> DockerEngine {
        let directory = URL(fileURLWithPath: "/tmp").appendingPathComponent("mr-dockerd-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let engine = DockerEngine(directory: directory)
        try await engine.start()
        try engine.buildImage()
        return engine
    }

    private init(directory: URL) {
        self.directory = directory
    }

    /// Starts dockerd (again, after `stop`) and waits until it answers `/_ping`.
    func start() async throws {
        let log = directory.appendingPathComponent("dockerd.log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.executable("dockerd")!)
        process.arguments = [
            "--data-root", directory.appendingPathComponent("data").path,
            "--exec-root", directory.appendingPathComponent("exec").path,
            "-H", host, "--pidfile", directory.appendingPathComponent("pid").path,
            "--iptables=false", "--bridge=none",
        ]
        process.standardOutput = try FileHandle(forWritingTo: log)
        process.standardError = try FileHandle(forWritingTo: log)
        try process.run()
        pid.withLock { $0 = process.processIdentifier }
        Self.register(self)
        let client = CurlHTTPClient()
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if let answer = try? await client.send(
                .init(url: "http://localhost/_ping", timeoutMilliseconds: 2_000, unixSocketPath: socket)),
                answer.status == 200
            {
                return
            }
            guard process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        throw EngineFailure(message: "dockerd did not answer on \(socket): \(text.suffix(1_500))")
    }

    /// SIGTERM to dockerd (it stops its containers), and waits for it to exit.
    func stop() {
        let running = pid.withLock { pid in
            defer { pid = 0 }
            return pid
        }
        guard running > 0 else { return }
        kill(running, SIGTERM)
        var status: Int32 = 0
        for _ in 0..<400 {
            if waitpid(running, &status, WNOHANG) == running || kill(running, 0) != 0 { return }
            usleep(50_000)
        }
        kill(running, SIGKILL)
        waitpid(running, &status, 0)
    }

    private func buildImage() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let runtime = Bundle.main.executableURL!.deletingLastPathComponent().appendingPathComponent(
            "molecule-workspace-runtime")
        let process = Process()
        process.executableURL = root.appendingPathComponent("scripts/build-workspace-image")
        process.arguments = ["--binary", runtime.path, "--tag", Self.image, "--host", host]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw EngineFailure(message: "scripts/build-workspace-image failed: \(text.suffix(1_500))")
        }
    }

    struct EngineFailure: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    static func executable(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
        return (path.split(separator: ":").map(String.init) + ["/usr/sbin", "/usr/bin"])
            .map { "\($0)/\(name)" }
            .first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Every engine started by this process, stopped and removed at its exit.
    private static let started = Mutex<[DockerEngine]>([])

    private static func register(_ engine: DockerEngine) {
        let first = started.withLock { engines in
            defer { if !engines.contains(where: { $0 === engine }) { engines.append(engine) } }
            return engines.isEmpty
        }
        if first {
            atexit {
                for engine in DockerEngine.started.withLock({ $0 }) {
                    engine.stop()
                    // dockerd leaves its default network namespace mounted under its exec root.
                    umount2(engine.directory.appendingPathComponent("exec/netns/default").path, Int32(MNT_DETACH))
                    try? FileManager.default.removeItem(at: engine.directory)
                }
            }
        }
    }
}
