import CurlHTTP
import Foundation
import Postgres
import PostgresTestSupport
import Testing

/// Runs the built `molecule-reconciler` binary as an operator would.
@Suite("command line")
struct CommandLineTests {
    typealias Outcome = ReconcilerBinary.Outcome

    static func run(_ arguments: [String]) throws -> Outcome { try ReconcilerBinary.run(arguments) }

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

    @Test(
        "run on the embedded default migrates as the owner, converges the example fleet as a reconciler login, without a warning")
    func embeddedRunUnderReconcilerLogin() async throws {
        let directory = NSTemporaryDirectory() + "molecule-embedded-\(UUID().uuidString.prefix(8))"
        let stateDir = directory + "-state"
        let log = directory + ".log"
        FileManager.default.createFile(atPath: log, contents: nil)
        defer {
            for pid in CrashRestartTests.runtimeProcesses(stateDir: stateDir).keys { kill(pid, SIGKILL) }
            try? FileManager.default.removeItem(atPath: directory)
            try? FileManager.default.removeItem(atPath: stateDir)
            try? FileManager.default.removeItem(atPath: log)
        }
        let products = Bundle.main.executableURL!.deletingLastPathComponent()
        let port = CrashRestartTests.sidecarPort()
        let process = Process()
        process.executableURL = products.appendingPathComponent("molecule-reconciler")
        process.arguments = [
            "run", "--embedded-dir", directory, "--state-dir", stateDir, "--http-port", "\(port)",
            "--runtime-executable", products.appendingPathComponent("molecule-workspace-runtime").path,
            "--log-level", "warning",
        ]
        var environment = ProcessInfo.processInfo.environment
        for name in ["DATABASE_URL", "PGHOST", "PGPORT", "PGDATABASE", "PGUSER", "PGSERVICE", "PGHOSTADDR"] {
            environment.removeValue(forKey: name)
        }
        process.environment = environment
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = output
        process.standardError = output
        try process.run()
        defer { if process.isRunning { process.terminate() } }

        // Ready (migrated, the fleet loaded, the controllers started), then converged, as
        // `status` on the same embedded server says (exit 0).
        let client = CurlHTTPClient()
        var ready = false
        let deadline = ContinuousClock.now + .seconds(150)
        while !ready, ContinuousClock.now < deadline, process.isRunning {
            let response = try? await client.send(.init(url: "http://127.0.0.1:\(port)/readyz", timeoutMilliseconds: 500))
            ready = response?.status == 200
            if !ready { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(ready, "\((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
        var status = Outcome(status: -1, output: "")
        while ContinuousClock.now < deadline, process.isRunning {
            status = try Self.run(["status", "--embedded-dir", directory, "--log-level", "error"])
            if status.status == 0 { break }
            try await Task.sleep(for: .milliseconds(500))
        }
        #expect(status.status == 0, "\(status.output)\n\((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
        #expect(status.output.contains("workspaces: 4 (running 4)"), "\(status.output)")

        // The controllers' sessions are the sidecar login's, a member of molecule_reconciler only.
        let owner = PostgresPool(
            configuration: .init(conninfo: "host=\(directory) port=5432 user=postgres dbname=molecule"), size: 1)
        // (A `status` above has just disconnected: its backend may take a moment to go.)
        var sessions: [String] = []
        for _ in 0..<50 {
            sessions = try await owner.query(
                """
                SELECT DISTINCT usename::text AS login FROM pg_stat_activity
                 WHERE datname = 'molecule' AND pid <> pg_backend_pid() AND backend_type = 'client backend'
                """
            ).rows.map { try $0.require(String.self, "login") }
            if sessions == ["molecule_sidecar"] { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let memberships = try await owner.query(
            """
            SELECT r.rolname::text AS name, r.rolsuper AS superuser,
                   ARRAY(SELECT g.rolname::text FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
                          WHERE m.member = r.oid ORDER BY 1) AS groups
              FROM pg_roles r WHERE r.rolname = 'molecule_sidecar'
            """
        ).rows
        let warnings = try await owner.query(
            "SELECT count(*)::int AS n FROM events WHERE reason = 'ExcessPrivileges'"
        ).rows[0].require(Int.self, "n")
        await owner.close()
        #expect(sessions == ["molecule_sidecar"], "\(sessions)")
        #expect(try memberships.first?.require(Bool.self, "superuser") == false)
        #expect(try memberships.first?.require([String].self, "groups") == ["molecule_reconciler"])
        #expect(warnings == 0)

        process.terminate()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(!text.contains("more privileges than it needs"), "\(text)")

        // A configured superuser URL keeps today's behaviour: the check warns.
        let superuser = try await TestDatabase.create(poolSize: 1)
        await superuser.close()
        let tick = try Self.run(["tick", "--database-url", superuser.configuration.conninfo, "--state-dir", stateDir + "-tick"])
        try? FileManager.default.removeItem(atPath: stateDir + "-tick")
        #expect(tick.status == 0, "\(tick.output)")
        #expect(tick.output.contains("more privileges than it needs") && tick.output.contains("SUPERUSER"), "\(tick.output)")
    }
}
