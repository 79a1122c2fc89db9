import CurlHTTP
import EmbeddedPostgres
import Foundation
import PostgresTestSupport
import Testing

/// `molecule-reconciler demo` run as a user would: it prints the commands to try, those
/// commands reach its database as printed, and SIGTERM ends it with its runtimes and its
/// PostgreSQL.
@Suite("demo")
struct DemoTests {
    static let products = Bundle.main.executableURL!.deletingLastPathComponent()

    /// The printed line that starts with the program and `words` (the flags it printed follow).
    static func printedCommand(_ output: String, _ words: String) -> [String]? {
        let program = products.appendingPathComponent("molecule-reconciler").path
        return output.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            .first { $0.hasPrefix("\(program) \(words)") }
            .map { $0.split(separator: " ").map(String.init).dropFirst().map { $0 } }
    }

    @Test("demo: the example fleet on a PostgreSQL of its own, the printed commands work, SIGTERM ends it all with 0")
    func demo() async throws {
        let parent = URL(fileURLWithPath: "/tmp").appendingPathComponent("mr-demo-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: parent, withIntermediateDirectories: true)
        let directory = parent.appendingPathComponent("demo").path
        let output = parent.appendingPathComponent("stdout")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        let errors = parent.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: errors.path, contents: nil)
        let port = CrashRestartTests.sidecarPort()
        let process = Process()
        process.executableURL = Self.products.appendingPathComponent("molecule-reconciler")
        process.arguments = ["demo", "--dir", directory, "--http-port", "\(port)", "--log-level", "error"]
        var environment = ProcessInfo.processInfo.environment
        for name in ["DATABASE_URL", "PGHOST", "PGPORT", "PGDATABASE", "PGUSER", "PGSERVICE", "PGHOSTADDR"] {
            environment.removeValue(forKey: name)
        }
        process.environment = environment
        process.standardOutput = try FileHandle(forWritingTo: output)
        process.standardError = try FileHandle(forWritingTo: errors)
        try process.run()
        defer {
            // Whatever happened: nothing of the demo is left running.
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            for runtime in RuntimeProcess.all(stateDir: directory) { kill(runtime.pid, SIGKILL) }
            Self.stopServer(directory)
            try? FileManager.default.removeItem(at: parent)
        }
        func printed() -> String { (try? String(contentsOf: output, encoding: .utf8)) ?? "" }
        func logged() -> String { (try? String(contentsOf: errors, encoding: .utf8)) ?? "" }

        // It says what to try once its database is up (initdb, migrations, the fleet loaded).
        let deadline = ContinuousClock.now + .seconds(180)
        while !printed().contains("Ctrl-C ends the demo"), process.isRunning, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
        }
        let instructions = printed()
        #expect(instructions.contains("on an embedded PostgreSQL in \(directory)"), "\(instructions)\(logged())")
        #expect(instructions.contains("http://127.0.0.1:\(port)/readyz"))
        #expect(instructions.contains("psql 'host=\(directory) port=5432 user=postgres dbname=molecule'"))
        for words in ["get workspaces", "describe workspace acme/concierge", "explain acme/research", "status"] {
            #expect(Self.printedCommand(instructions, words)?.suffix(2) == ["--embedded-dir", directory], "\(words)")
        }

        // `wait`, exactly as printed, until a workspace is Ready; the other commands then answer.
        var wait = try #require(Self.printedCommand(instructions, "wait workspace/acme/seo-1"), "\(instructions)")
        wait = wait.map { $0 == "60s" ? "150s" : $0 }  // a loaded CI machine starts runtimes slowly
        let waited = try CommandLineTests.run(wait)
        #expect(waited.status == 0, "\(waited.output)\(logged())")
        #expect(waited.output.contains("workspace/acme/seo-1 condition=Ready met"))
        let listed = try CommandLineTests.run(try #require(Self.printedCommand(instructions, "get workspaces")))
        #expect(listed.status == 0)
        let rows = listed.output.split(separator: "\n").dropFirst().map { $0.split(separator: " ").map(String.init) }
        #expect(rows.map { "\($0[0])/\($0[1])" } == ["acme/concierge", "acme/research", "acme/seo-1", "acme/seo-2"])
        #expect(rows.first { $0[1] == "seo-1" }?[3...4] == ["running", "True"], "\(listed.output)")
        let explained = try CommandLineTests.run(try #require(Self.printedCommand(instructions, "explain acme/research")))
        #expect(explained.status == 0 && explained.output.contains("workspace acme/research"), "\(explained.output)")
        let health = try await CurlHTTPClient().send(.init(url: "http://127.0.0.1:\(port)/healthz", timeoutMilliseconds: 5_000))
        #expect(health.status == 200)
        #expect(!RuntimeProcess.all(stateDir: directory).isEmpty)

        // SIGTERM: a graceful stop, exit 0, and the demo's world goes with it.
        process.terminate()
        process.waitUntilExit()
        #expect(process.terminationReason == .exit && process.terminationStatus == 0, "\(logged())")
        #expect(printed().contains("demo stopped: 4 workspace runtime(s) and its PostgreSQL"), "\(printed())")
        #expect(RuntimeProcess.all(stateDir: directory).isEmpty)
        let after = try CommandLineTests.run(["get", "workspaces", "--embedded-dir", directory])
        #expect(after.status == 1)
        #expect(after.output.contains("no embedded PostgreSQL runs in \(directory)"), "\(after.output)")
    }

    @Test("commands that find an embedded server without its database (a demo starting) create it once between them")
    func concurrentFirstCommands() async throws {
        let directory = URL(fileURLWithPath: "/tmp").appendingPathComponent("mr-bare-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer {
            Self.stopServer(directory)
            try? FileManager.default.removeItem(atPath: directory)
        }
        // A server as `demo` or `run` starts it, before either has created the database.
        var options = EmbeddedPostgres.Options(baseDirectory: directory)
        options.fsync = false
        try await EmbeddedPostgres(options: options, logger: TestDatabase.logger).startInBackground()
        let commands = (0..<8).map { _ in
            Task.detached { try CommandLineTests.run(["get", "workspaces", "--embedded-dir", directory]) }
        }
        for command in commands {
            let outcome = try await command.value
            // Each gets as far as the schema (nobody migrated it); none trips over another's CREATE DATABASE.
            #expect(outcome.output.contains("the database schema is too old"), "\(outcome.output)")
        }
    }

    /// Stops an embedded server a test left running in `directory`.
    static func stopServer(_ directory: String) {
        EmbeddedPostgres(options: .init(baseDirectory: directory), logger: TestDatabase.logger).stop()
    }
}
