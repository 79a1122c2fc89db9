import CurlHTTP
import Foundation
import Postgres
import PostgresTestSupport
import Testing

/// The embedded default end to end, as an operator runs it: a real `molecule-reconciler run`
/// process, real runtime processes, real files — killed with SIGKILL mid-run and started again.
@Suite("crash and restart of the sidecar")
struct CrashRestartTests {
    static let products = Bundle.main.executableURL!.deletingLastPathComponent()

    /// A port for a sidecar's endpoints, below the kernel's ephemeral range (32768–60999 by
    /// default): a client socket the kernel gave a port, live or in TIME_WAIT, keeps a listener
    /// from binding that port even with SO_REUSEADDR, and a test run leaves hundreds of them.
    static func sidecarPort() -> Int {
        Int.random(in: 20_000..<32_768)
    }

    /// Pids of the runtime processes started for this state directory, from /proc (not from the
    /// provider's records: this is what really runs).
    static func runtimeProcesses(stateDir: String) -> [Int32: String] {
        var found: [Int32: String] = [:]
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(entry),
                let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline")
            else { continue }
            let arguments = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            guard arguments.first?.hasSuffix("molecule-workspace-runtime") == true,
                arguments.contains(where: { $0.hasPrefix(stateDir) }),
                let bundle = arguments.firstIndex(of: "--bundle").map({ arguments[$0 + 1] })
            else { continue }
            // molecule/workspace/<id>/config
            found[pid] = bundle.split(separator: "/")[2].lowercased()
        }
        return found
    }

    static func startReconciler(_ conninfo: String, stateDir: String) throws -> Process {
        let process = Process()
        process.executableURL = products.appendingPathComponent("molecule-reconciler")
        process.arguments = [
            "run", "--database-url", conninfo, "--state-dir", stateDir,
            "--runtime-executable", products.appendingPathComponent("molecule-workspace-runtime").path,
            "--http-port", "\(sidecarPort())", "--sweep-interval", "1", "--log-level", "error",
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    static func phases(_ pool: PostgresPool) async throws -> [String: String] {
        try await pool.query("SELECT id, phase FROM workspaces").rows.reduce(into: [:]) {
            $0[try $1.require(String.self, "id")] = try $1.require(String.self, "phase")
        }
    }

    /// Polls until `condition` holds, for at most `seconds`.
    static func eventually(_ seconds: Double, _ condition: () async throws -> Bool) async throws -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return try await condition()
    }

    @Test(
        "SIGKILL mid-run, start again: every runtime adopted or replaced, none duplicated, none orphaned; a deleted row's runtime is collected"
    )
    func killAndRestart() async throws {
        let pool = try await TestDatabase.create(poolSize: 2)
        let stateDir = NSTemporaryDirectory() + "molecule-crash-\(UUID().uuidString)"
        defer {
            for pid in Self.runtimeProcesses(stateDir: stateDir).keys { kill(pid, SIGKILL) }
            try? FileManager.default.removeItem(atPath: stateDir)
        }
        try await pool.query(
            #"INSERT INTO templates (name, files) VALUES ('t', '{"config.yaml": "a: 1", "prompts/p.md": "hi"}')"#)
        try await pool.query(
            """
            INSERT INTO workspaces (org, name, template, image, desired_state, kind) VALUES
              ('acme', 'a', 't', 'local', 'running', 'agent'), ('acme', 'b', 't', 'local', 'running', 'agent'),
              ('acme', 'c', 't', 'local', 'running', 'platform'), ('acme', 'd', 't', 'local', 'running', 'agent'),
              ('acme', 'e', 't', 'local', 'stopped', 'agent')
            """)
        let running = Set(
            try await pool.query("SELECT id FROM workspaces WHERE desired_state = 'running'").rows
                .map { try $0.require(String.self, "id") })

        // Kill the sidecar as soon as the first runtime exists: mid-run, with launches in flight.
        let first = try Self.startReconciler(pool.configuration.conninfo, stateDir: stateDir)
        #expect(try await Self.eventually(60) { !Self.runtimeProcesses(stateDir: stateDir).isEmpty })
        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()
        #expect(first.terminationReason == .uncaughtSignal)
        let beforeRestart = Self.runtimeProcesses(stateDir: stateDir)

        let second = try Self.startReconciler(pool.configuration.conninfo, stateDir: stateDir)
        defer {
            second.terminate()
            second.waitUntilExit()
        }
        let converged = try await Self.eventually(150) {
            let phases = try await Self.phases(pool)
            let processes = Self.runtimeProcesses(stateDir: stateDir)
            return running.allSatisfy { phases[$0] == "running" } && Set(processes.values) == running
                && processes.count == running.count
        }
        let afterRestart = Self.runtimeProcesses(stateDir: stateDir)
        let phases = try await Self.phases(pool)
        #expect(converged, "phases \(phases), processes \(afterRestart)")
        // One process per running workspace, none for the stopped one, and every runtime that
        // survived the kill was adopted (still running with the same pid), not duplicated.
        #expect(afterRestart.count == running.count)
        #expect(Set(afterRestart.values) == running)
        for (pid, workspace) in beforeRestart where running.contains(workspace) {
            #expect(afterRestart[pid] == workspace, "runtime \(pid) of \(workspace) was not adopted")
        }
        let launches = try await pool.query(
            "SELECT sum(instance_generation)::bigint AS n FROM instances WHERE key = ANY($1::uuid[])",
            [running.sorted()]
        ).rows[0].require(Int64.self, "n")
        #expect(launches == Int64(running.count), "a workspace needed a second generation")

        // A row deleted outright leaves no key to reconcile; the sweeper collects its runtime.
        let victim = running.sorted()[0]
        try await pool.query("DELETE FROM workspaces WHERE id = $1::uuid", [victim])
        #expect(try await Self.eventually(30) { !Self.runtimeProcesses(stateDir: stateDir).values.contains(victim) })
        #expect(Self.runtimeProcesses(stateDir: stateDir).count == running.count - 1)
    }
}
