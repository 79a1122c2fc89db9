import Foundation
import Postgres
import PostgresTestSupport
import ReconcileStore
import Testing

/// The example fleet written by an operator and converged by the real binary connected as a
/// login role in `reconciler`: the roles are enough for the whole loop, and the sidecar says so.
@Suite("the fleet under least privilege", .serialized)
struct FleetUnderRolesTests {
    static let products = Bundle.main.executableURL!.deletingLastPathComponent()

    typealias Outcome = ReconcilerBinary.Outcome

    static func reconciler(_ arguments: [String]) throws -> Outcome { try ReconcilerBinary.run(arguments) }

    static func tick(_ arguments: [String], conninfo: String, stateDir: String) throws -> Outcome {
        try reconciler(
            ["tick"] + arguments + [
                "--database-url", conninfo, "--state-dir", stateDir,
                "--runtime-executable", products.appendingPathComponent("molecule-workspace-runtime").path,
                "--log-level", "warning",
            ])
    }

    /// Stops the runtimes a test's ticks started (they outlive the tick, as the "cloud" does).
    static func killRuntimes(stateDir: String) {
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(entry), let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else {
                continue
            }
            let arguments = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            if arguments.first?.hasSuffix("molecule-workspace-runtime") == true,
                arguments.contains(where: { $0.hasPrefix(stateDir) })
            {
                kill(pid, SIGKILL)
            }
        }
    }

    @Test("the example fleet loads under operator and converges, idempotently, under reconciler; operator edits converge too")
    func fleetConverges() async throws {
        let database = try await RoleDatabase.create()
        let operatorPool = database.pool(as: .operator)
        defer { Task { await operatorPool.close() } }
        #expect(try await ExampleFleet.loadIfEmpty(operatorPool, logger: TestDatabase.logger))

        let stateDir = NSTemporaryDirectory() + "molecule-roles-\(UUID().uuidString)"
        defer {
            Self.killRuntimes(stateDir: stateDir)
            try? FileManager.default.removeItem(atPath: stateDir)
        }
        let conninfo = database.conninfo(as: database.login(.reconciler))
        let converge = try Self.tick(["--until-converged"], conninfo: conninfo, stateDir: stateDir)
        #expect(converge.status == 0, "\(converge.output)")
        #expect(converge.output.contains("still converging: 0"), "\(converge.output)")
        #expect(!converge.output.contains("more privileges than it needs"), "\(converge.output)")
        let check = try Self.tick(["--check-idempotent"], conninfo: conninfo, stateDir: stateDir)
        #expect(check.status == 0, "\(check.output)")
        #expect(check.output.contains("idempotent: the check pass made no provider mutation and wrote no row"), "\(check.output)")
        #expect(try await Self.phases(database.owner).allSatisfy { $0.hasSuffix("=running") })
        // The operator tools work under viewer.
        let status = try Self.reconciler(["status", "--database-url", database.conninfo(as: database.login(.viewer))])
        #expect(status.status == 0 && status.output.contains("instances: 4 key(s), converged"), "\(status.output)")

        // An operator's edits: a new image, a rotated secret, a restart request from the platform.
        try await operatorPool.query("UPDATE workspaces SET image = 'local/agent:2' WHERE name = 'seo-1'")
        try await operatorPool.query("SELECT molecule_put_org_secret('acme', 'MODEL_API_KEY', 'rotated-model-key')")
        let platform = database.pool(as: .platform)
        defer { Task { await platform.close() } }
        try await platform.query("UPDATE workspaces SET restart_requests = restart_requests + 1 WHERE name = 'seo-2'")
        let again = try Self.tick(["--until-converged"], conninfo: conninfo, stateDir: stateDir)
        #expect(again.status == 0, "\(again.output)")
        #expect(again.output.contains("still converging: 0"), "\(again.output)")
        let phases = try await Self.phases(database.owner)
        #expect(!phases.isEmpty && phases.allSatisfy { $0.hasSuffix("=running") }, "\(phases)")
        let generations = try await database.owner.query(
            """
            SELECT w.name, i.instance_generation FROM workspaces w JOIN instances i ON i.key = w.id
             WHERE w.name IN ('seo-1', 'seo-2') ORDER BY w.name
            """
        ).rows.map { try $0.require(Int.self, "instance_generation") }
        #expect(
            generations.allSatisfy { $0 >= 2 }, "seo-1 (image) and seo-2 (restart request) run a new generation: \(generations)")
    }

    static func phases(_ pool: PostgresPool) async throws -> [String] {
        try await pool.query("SELECT name, phase FROM workspaces WHERE desired_state = 'running' ORDER BY name").rows
            .map { "\(try $0.require(String.self, "name"))=\(try $0.require(String.self, "phase"))" }
    }
}
