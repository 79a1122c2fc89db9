import Foundation
import Postgres
import PostgresTestSupport
import ReconcileStore
import Testing

/// The design's third use, as a user runs it: idempotency checked by repeated ticks on the
/// example fleet, with real runtime processes that take a moment to boot.
@Suite("ticks on the example fleet", .serialized)
struct ExampleFleetTickTests {
    static let products = Bundle.main.executableURL!.deletingLastPathComponent()

    static func tick(_ arguments: [String], conninfo: String, stateDir: String) throws -> CommandLineTests.Outcome {
        try CommandLineTests.run(
            ["tick"] + arguments + [
                "--database-url", conninfo, "--state-dir", stateDir,
                "--runtime-executable", products.appendingPathComponent("molecule-workspace-runtime").path, "--log-level",
                "error",
            ])
    }

    @Test("tick --until-converged, then tick --check-idempotent passes at once with every workspace running", arguments: 1...10)
    func convergeThenCheck(_ repetition: Int) async throws {
        let pool = try await TestDatabase.create(poolSize: 2)
        let stateDir = NSTemporaryDirectory() + "molecule-ticks-\(UUID().uuidString)"
        defer {
            for pid in CrashRestartTests.runtimeProcesses(stateDir: stateDir).keys { kill(pid, SIGKILL) }
            try? FileManager.default.removeItem(atPath: stateDir)
        }
        // The sessions that loaded the fleet stay open and idle: their writes, whenever their
        // statistics arrive, are not the check pass's.
        #expect(try await ExampleFleet.loadIfEmpty(pool, logger: TestDatabase.logger))
        let converge = try Self.tick(["--until-converged"], conninfo: pool.configuration.conninfo, stateDir: stateDir)
        #expect(converge.status == 0, "\(converge.output)")
        #expect(converge.output.contains("still converging: 0"), "\(converge.output)")
        let check = try Self.tick(["--check-idempotent"], conninfo: pool.configuration.conninfo, stateDir: stateDir)
        #expect(check.status == 0, "repetition \(repetition): \(check.output)")
        #expect(check.output.contains("idempotent: the check pass made no provider mutation and wrote no row"))
        let reader = PostgresPool(configuration: pool.configuration, size: 1)
        defer { Task { await reader.close() } }
        let phases = try await reader.query("SELECT name, phase FROM workspaces WHERE desired_state = 'running' ORDER BY name")
            .rows
            .map { "\(try $0.require(String.self, "name"))=\(try $0.require(String.self, "phase"))" }
        #expect(!phases.isEmpty && phases.allSatisfy { $0.hasSuffix("=running") }, "\(phases)")
        let ready = try await reader.query(
            """
            SELECT count(*) FILTER (WHERE conditions -> 'Ready' ->> 'status' = 'True') AS ready, count(*) AS total
              FROM workspaces WHERE desired_state = 'running'
            """
        ).rows[0]
        #expect(try ready.require(Int.self, "ready") == ready.require(Int.self, "total"))
    }
}
