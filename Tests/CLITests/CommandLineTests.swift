import CurlHTTP
import Foundation
import Postgres
import PostgresTestSupport
import Testing

/// Runs the built `molecule-reconciler` binary as an operator would.
@Suite("command line")
struct CommandLineTests {
    struct Outcome {
        var status: Int32
        var output: String
    }

    static func run(_ arguments: [String]) throws -> Outcome {
        // The test bundle and the products are built into the same directory.
        let binary = Bundle.main.executableURL!.deletingLastPathComponent().appendingPathComponent("molecule-reconciler")
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        for name in ["DATABASE_URL", "PGHOST", "PGPORT", "PGDATABASE", "PGUSER", "PGSERVICE", "PGHOSTADDR"] {
            environment.removeValue(forKey: name)
        }
        process.environment = environment
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Outcome(status: process.terminationStatus, output: String(decoding: data, as: UTF8.self))
    }

    @Test("a bad flag is refused with usage")
    func badFlag() throws {
        let outcome = try Self.run(["tick", "--now", "yesterday"])
        #expect(outcome.status == 64)
        #expect(outcome.output.contains("--now must be an ISO-8601 instant"))
        #expect(try Self.run(["tick", "--no-such-flag"]).status == 64)
    }

    @Test("an unreachable database names host and port, never the password")
    func unreachableDatabase() throws {
        let outcome = try Self.run(["status", "--database-url", "postgresql://ops:pw-Secret-42@127.0.0.1:1/molecule"])
        #expect(outcome.status == 1)
        #expect(outcome.output.contains("cannot connect to PostgreSQL at 127.0.0.1:1"))
        #expect(!outcome.output.contains("pw-Secret-42"))
    }

    @Test("a schema that is too old is named; migrate fixes it; tick --check-idempotent passes")
    func schemaLifecycle() async throws {
        let conninfo = try await TestDatabase.createEmpty()
        let old = try Self.run(["status", "--database-url", conninfo])
        #expect(old.status == 1)
        #expect(old.output.contains("the database schema is too old"))
        #expect(old.output.contains("run `molecule-reconciler migrate`"))
        let migrated = try Self.run(["migrate", "--database-url", conninfo, "--log-level", "error"])
        #expect(migrated.status == 0)
        #expect(migrated.output.contains("applied: 0001_controller_machinery"))
        #expect(try Self.run(["migrate", "--database-url", conninfo]).output.contains("schema is up to date"))
        let check = try Self.run(["tick", "--check-idempotent", "--database-url", conninfo, "--log-level", "error"])
        #expect(check.status == 0)
        #expect(check.output.contains("idempotent"))
        let status = try Self.run(["status", "--database-url", conninfo, "--log-level", "error"])
        #expect(status.status == 0)
        #expect(status.output.contains("instances: 0 key(s), converged"))
    }

    @Test("the sidecar becomes ready, and SIGTERM stops it gracefully with exit 0")
    func runAndTerminate() async throws {
        let pool = try await TestDatabase.create(poolSize: 1)
        let port = CrashRestartTests.sidecarPort()
        let process = Process()
        process.executableURL = Bundle.main.executableURL!.deletingLastPathComponent().appendingPathComponent(
            "molecule-reconciler")
        process.arguments = [
            "run", "--database-url", pool.configuration.conninfo, "--http-port", "\(port)", "--log-level", "error",
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let client = CurlHTTPClient()
        var ready = false
        for _ in 0..<200 where !ready {
            let response = try? await client.send(.init(url: "http://127.0.0.1:\(port)/readyz", timeoutMilliseconds: 500))
            ready = response?.status == 200
            if !ready { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(ready)
        process.terminate()
        process.waitUntilExit()
        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus == 0)
    }
}
