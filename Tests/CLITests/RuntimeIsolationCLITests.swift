import Foundation
import Postgres
import PostgresTestSupport
import ReconcileStore
import Testing

/// Runtime isolation as an operator meets it: the real binary as root (isolation on, said by
/// `status`) and as a user that cannot switch users (`setpriv` to nobody): said at start and by
/// `status`, and with `--require-isolation` no runtime starts and `last_error` names the setting.
@Suite("runtime isolation from the command line", .enabled(if: geteuid() == 0, "becoming another user needs root"))
struct RuntimeIsolationCLITests {
    static let products = Bundle.main.executableURL!.deletingLastPathComponent()
    static let nobody: uid_t = 65_534

    /// The binary, as `nobody` when `unprivileged`. Nobody keeps one capability, to reach the
    /// test server's socket (in its 0700 directory): not the ones that switch users.
    static func run(_ arguments: [String], unprivileged: Bool) throws -> CommandLineTests.Outcome {
        let binary = products.appendingPathComponent("molecule-reconciler").path
        let drop = [
            "/usr/bin/setpriv", "--reuid", String(nobody), "--regid", String(nobody), "--clear-groups",
            "--inh-caps", "+dac_override", "--ambient-caps", "+dac_override", "--",
        ]
        return try ReconcilerBinary.run(command: (unprivileged ? drop : []) + [binary] + arguments, environment: nil)
    }

    @Test(
        "not root: a warning at start, status says so, and --require-isolation starts no runtime and names itself in last_error")
    func unprivilegedRequired() async throws {
        let pool = try await TestDatabase.create(poolSize: 2)
        let stateDir = NSTemporaryDirectory() + "molecule-isolation-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: stateDir, withIntermediateDirectories: true)
        #expect(chown(stateDir, Self.nobody, Self.nobody) == 0)
        defer {
            for pid in CrashRestartTests.runtimeProcesses(stateDir: stateDir).keys { kill(pid, SIGKILL) }
            try? FileManager.default.removeItem(atPath: stateDir)
        }
        #expect(try await ExampleFleet.loadIfEmpty(pool, logger: TestDatabase.logger))
        // status takes the state directory only (it starts nothing); tick also the runtime.
        let state = ["--database-url", pool.configuration.conninfo, "--state-dir", stateDir]
        let common = state + ["--runtime-executable", Self.products.appendingPathComponent("molecule-workspace-runtime").path]
        // Two full passes: the first stages the bundles, the second would start the runtimes.
        var output = ""
        for _ in 0..<2 {
            let tick = try Self.run(
                ["tick", "--full", "--require-isolation", "--log-level", "warning"] + common, unprivileged: true)
            output += tick.output
        }
        #expect(output.contains("runtime isolation") && output.contains("runs as uid \(Self.nobody), not root"), "\(output)")
        #expect(CrashRestartTests.runtimeProcesses(stateDir: stateDir).isEmpty)
        let refused = try await pool.query(
            "SELECT count(*) AS n FROM workspaces WHERE desired_state = 'running' AND last_error LIKE '%--require-isolation%'"
        ).rows[0].require(Int64.self, "n")
        let running = try await pool.query("SELECT count(*) AS n FROM workspaces WHERE desired_state = 'running'").rows[0]
            .require(Int64.self, "n")
        #expect(refused > 0 && refused == running, "\(refused) of \(running)")
        let status = try Self.run(["status", "--require-isolation"] + state, unprivileged: true)
        #expect(status.output.contains("runtime isolation: runtimes are refused: isolation is required"), "\(status.output)")
        // The same status as root: isolation on.
        let root = try Self.run(["status"] + state, unprivileged: false)
        #expect(root.output.contains("runtime isolation: each workspace's runtime runs as its own user (uids 61000-65000)"))
        // A malformed range names its option.
        let bad = try Self.run(["status", "--runtime-uids", "65000-61000"] + state, unprivileged: false)
        #expect(bad.status == 64 && bad.output.contains("--runtime-uids: must be FIRST-LAST"), "\(bad.output)")
    }
}
