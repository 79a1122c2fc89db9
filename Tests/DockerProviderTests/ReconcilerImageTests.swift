import CurlHTTP
import Foundation
import PostgresTestSupport
import Testing

/// The reconciler's own image, built with no registry by `scripts/build-reconciler-image` from
/// the debug binaries already built (CI builds no release), then run on the suite's private
/// engine against a test database: what the image is, not what its recipe says.
@Suite(
    "reconciler image",
    .disabled(if: DockerEngine.unavailableReason != nil, Comment(rawValue: DockerEngine.unavailableReason ?? "")))
struct ReconcilerImageTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let products = Bundle.main.executableURL!.deletingLastPathComponent()
    static let tag = "molecule-reconciler:test"

    /// Runs a program to its end; standard error goes through a file, so that neither pipe can
    /// fill up while the other is read.
    static func exec(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String, errors: String) {
        let errorFile = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("image-\(UUID().uuidString).err")
        _ = FileManager.default.createFile(atPath: errorFile.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: errorFile) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.currentDirectoryURL = repository
        let output = Pipe()
        process.standardOutput = output
        process.standardError = try FileHandle(forWritingTo: errorFile)
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (
            process.terminationStatus, String(decoding: data, as: UTF8.self),
            (try? String(contentsOf: errorFile, encoding: .utf8)) ?? ""
        )
    }

    static func docker(_ engine: DockerEngine, _ arguments: [String]) throws -> (status: Int32, output: String, errors: String) {
        try exec(DockerEngine.executable("docker")!, ["-H", engine.host] + arguments)
    }

    /// `Uid:` of /proc/PID/status: real, effective, saved and filesystem uid.
    static func uids(of pid: String) -> [String] {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("Uid:") } ?? ""
        return line.split(whereSeparator: { $0 == "\t" || $0 == " " }).dropFirst().map(String.init)
    }

    /// The processes whose parent is `pid`.
    static func children(of pid: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).filter { entry in
            guard Int(entry) != nil, let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return false }
            // pid (comm) state ppid ...
            return stat[stat.index(after: close)...].split(separator: " ").dropFirst().first.map(String.init) == pid
        }
    }

    static func commandLine(_ pid: String) -> [String] {
        (FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") ?? Data()).split(separator: 0).map {
            String(decoding: $0, as: UTF8.self)
        }
    }

    @Test(
        "built from the debug binaries with no registry: --version, then run as uid 65532 against PostgreSQL, /readyz answers, SIGTERM exits 0"
    )
    func reconcilerImage() async throws {
        let engine = try await DockerEngine.shared.value
        let built = try Self.exec(
            Self.repository.appendingPathComponent("scripts/build-reconciler-image").path,
            ["--from", Self.products.path, "--tag", Self.tag, "--host", engine.host])
        try #require(built.status == 0, "\(built.output)\(built.errors.suffix(2_000))")
        #expect(built.output == "\(Self.tag)\n")
        let user = try Self.docker(engine, ["image", "inspect", "-f", "{{.Config.User}} {{json .Config.Entrypoint}}", Self.tag])
        #expect(user.output == "65532:65532 [\"/usr/local/bin/molecule-reconciler\"]\n", "\(user.errors)")

        // The binary finds its libraries and, through its link, its schema.
        let version = try Self.docker(engine, ["run", "--rm", "--network", "host", Self.tag, "--version"])
        #expect(version.status == 0, "\(version.errors)")
        #expect(version.output.hasPrefix("molecule-reconciler ") && version.output.contains("(schema 00"), "\(version.output)")

        // `run` against a test database: its unix socket is mounted into the container (the
        // test server listens on no TCP port), the health port is the host's (host network).
        let pool = try await TestDatabase.create(poolSize: 1)
        let conninfo = pool.configuration.conninfo
        let socketDirectory = try #require(conninfo.firstMatch(of: /host=(\S+)/)?.1).description
        let port = try #require(conninfo.firstMatch(of: /port=(\d+)/)?.1).description
        let inContainer = conninfo.replacingOccurrences(of: "host=\(socketDirectory)", with: "host=/run/postgresql")
        let httpPort = Int.random(in: 20_000..<32_768)
        let name = "mr-reconciler-\(UUID().uuidString.prefix(8))"
        let started = try Self.docker(
            engine,
            [
                "run", "-d", "--name", name, "--network", "host",
                "-v", "\(socketDirectory)/.s.PGSQL.\(port):/run/postgresql/.s.PGSQL.\(port)",
                Self.tag, "run", "--database-url", inContainer, "--state-dir", "/var/lib/molecule-reconciler",
                "--http-host", "127.0.0.1", "--http-port", "\(httpPort)", "--log-level", "warning",
            ])
        try #require(started.status == 0, "\(started.errors)")
        defer { _ = try? Self.docker(engine, ["rm", "-f", name]) }
        let client = CurlHTTPClient()
        var ready = false
        let deadline = ContinuousClock.now + .seconds(120)
        while !ready, ContinuousClock.now < deadline {
            let answer = try? await client.send(.init(url: "http://127.0.0.1:\(httpPort)/readyz", timeoutMilliseconds: 1_000))
            ready = answer?.status == 200
            if !ready {
                let state = try Self.docker(engine, ["inspect", "-f", "{{.State.Running}}", name]).output
                if state != "true\n" { break }
                try await Task.sleep(for: .milliseconds(200))
            }
        }
        let logs = try Self.docker(engine, ["logs", name])
        #expect(ready, "\(logs.output)\(logs.errors)")

        // Not root: the process the engine started, as the host's /proc sees it.
        let pid = try Self.docker(engine, ["inspect", "-f", "{{.State.Pid}}", name]).output
            .trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(Self.uids(of: pid) == ["65532", "65532", "65532", "65532"], "pid \(pid)")
        // A workspace: its runtime runs in the container too, as the same user, and everything
        // the reconciler writes lands in the directory the image gives it.
        try await pool.query(
            #"INSERT INTO templates (name, files) VALUES ('writer', '{"config.yaml": "model: x", "prompts/system.md": "hi"}')"#)
        try await pool.query(
            "INSERT INTO workspaces (org, name, kind, template, image) VALUES ('acme', 'w', 'agent', 'writer', 'local/agent:1')")
        var phase = ""
        while phase != "running", ContinuousClock.now < deadline + .seconds(60) {
            try await Task.sleep(for: .milliseconds(200))
            phase = try await pool.query("SELECT phase FROM workspaces WHERE name = 'w'").rows[0].require(String.self, "phase")
        }
        let log = try Self.docker(engine, ["logs", name]).errors
        #expect(phase == "running", "\(log)")
        let runtimes = Self.children(of: pid).filter {
            Self.commandLine($0).first?.hasSuffix("/molecule-workspace-runtime") == true
        }
        #expect(runtimes.count == 1 && runtimes.allSatisfy { Self.uids(of: $0) == ["65532", "65532", "65532", "65532"] })
        let changed = try Self.docker(engine, ["diff", name]).output.split(separator: "\n").map(String.init)
        #expect(changed.contains("A /var/lib/molecule-reconciler/secrets"), "\(changed)")
        #expect(changed.contains { $0.hasPrefix("A /var/lib/molecule-reconciler/instances/") }, "\(changed)")
        #expect(
            changed.allSatisfy {
                ["C /var", "C /var/lib", "C /var/lib/molecule-reconciler", "A /run"].contains($0)
                    || $0.hasPrefix("A /var/lib/molecule-reconciler/")
                    || $0.hasPrefix("A /run/postgresql")
            }, "\(changed)")
        let metrics = try await client.send(.init(url: "http://127.0.0.1:\(httpPort)/metrics", timeoutMilliseconds: 5_000))
        #expect(metrics.status == 200)

        // `docker stop` sends SIGTERM: a graceful stop, exit 0.
        let stopped = try Self.docker(engine, ["stop", "-t", "30", name])
        #expect(stopped.status == 0, "\(stopped.errors)")
        let exit = try Self.docker(engine, ["inspect", "-f", "{{.State.ExitCode}}", name])
        #expect(exit.output == "0\n", "\(logs.errors)")
    }
}
