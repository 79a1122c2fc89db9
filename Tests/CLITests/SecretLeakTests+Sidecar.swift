import CurlHTTP
import Foundation
import Postgres
import PostgresTestSupport
import Testing

extension SecretLeakTests {
    /// The sidecar at trace level through a hung runtime, a database that refuses connections, a
    /// runtime killed, an org-wide rotation and an operator's restart, until the fleet has
    /// converged again (beta's unstaged secret staged at last); its endpoints and the server's
    /// sessions are read at every stage.
    static func runSidecar(_ world: World, ids: [String: String]) async throws {
        let port = CrashRestartTests.sidecarPort()
        let sidecar = try world.start("7-run", ["run", "--http-port", "\(port)"])
        defer { if sidecar.process.isRunning { sidecar.process.terminate() } }
        let scrape = Scraper(world: world, port: port)
        #expect(try await CrashRestartTests.eventually(30) { await scrape.readiness() == 200 })
        // The control: the sidecar itself does carry the markers in its environment.
        let environment = FileManager.default.contents(atPath: "/proc/\(sidecar.process.processIdentifier)/environ") ?? Data()
        #expect(String(decoding: environment, as: UTF8.self).contains(world.markers.custom))
        try await scrape("at start")

        try await hangRuntime(world, workspace: ids["alpha"]!, scrape: scrape)
        try await cutDatabaseOff(world, scrape: scrape)
        // A runtime killed outright: replaced by the next generation, with a fresh token.
        for (pid, workspace) in CrashRestartTests.runtimeProcesses(stateDir: world.stateDir) where workspace == ids["beta"] {
            kill(pid, SIGKILL)
        }
        // Seen lost before the rotation below: a restart that the rotation decides first would
        // replace the dead runtime as an old generation, without a loss to report.
        let lostCount = {
            try await world.pool.query(
                "SELECT count(*)::int AS n FROM events WHERE reason = 'InstanceLost' AND key = $1::uuid",
                [ids["beta"]!]
            ).rows[0].require(Int.self, "n")
        }
        #expect(
            try await CrashRestartTests.eventually(60) { try await lostCount() == 1 }, "the killed runtime was not reported lost")
        try await world.pool.query(
            "UPDATE org_secrets SET value = $1, written_at = now() WHERE org = 'leakco'", [world.markers.orgRotated])
        try await world.pool.query("UPDATE workspaces SET restart_requests = restart_requests + 1 WHERE name = 'ops'")

        // Every healthy workspace running its second generation or later (alpha's rotation, beta's
        // and its lost runtime, the operator's restart of ops), everything staged and delivered.
        let healthy = ["alpha", "beta", "ops"].compactMap { ids[$0] }
        let converged = try await CrashRestartTests.eventually(120) {
            let rows = try await world.pool.query(
                """
                SELECT count(*)::int AS n FROM workspaces w
                  JOIN instances i ON i.key = w.id JOIN secret_bundles b ON b.key = w.id JOIN plugin_installs p ON p.key = w.id
                 WHERE w.id = ANY($1::uuid[]) AND w.phase = 'running' AND w.last_error IS NULL
                   AND i.instance_generation = i.target_generation AND i.instance_generation >= 2
                   AND b.staged_generation = i.target_generation AND b.observed_generation = b.desired_generation
                   AND p.observed_generation = p.desired_generation AND p.last_error IS NULL
                """, [healthy]
            ).rows
            return try rows[0].require(Int.self, "n") == healthy.count
                && healthy.allSatisfy { world.currentBundle($0)?.contains(world.markers.orgRotated) == true }
        }
        #expect(converged, "the fleet did not converge under the sidecar")
        #expect(try await lostCount() == 1, "the killed runtime was reported lost more than once")
        try await scrape("converged")
        sidecar.process.terminate()
        #expect(await world.finish(sidecar).status == 0, "the sidecar did not stop cleanly")
        #expect(world.output(of: "7-run").stderr.contains(" trace "), "no trace-level line was logged")
    }

    /// A runtime stopped with SIGSTOP, and a plugin declared for it meanwhile: its probes time
    /// out and say so (the delivery, which carries the instance token, waits for an answer and
    /// happens once it resumes).
    static func hangRuntime(_ world: World, workspace: String, scrape: Scraper) async throws {
        guard let pid = CrashRestartTests.runtimeProcesses(stateDir: world.stateDir).first(where: { $0.value == workspace })?.key
        else {
            Issue.record("no runtime runs for the workspace")
            return
        }
        kill(pid, SIGSTOP)
        defer { kill(pid, SIGCONT) }
        try await world.pool.query(
            "INSERT INTO workspace_declared_plugins (workspace_id, plugin, ref) VALUES ($1::uuid, 'code-search', '1.0.0')",
            [workspace])
        var errors: [String?] = []
        let noticed = try await CrashRestartTests.eventually(60) {
            let row = try await world.pool.query(
                """
                SELECT w.last_error AS workspace, p.last_error AS plugins FROM workspaces w JOIN plugin_installs p ON p.key = w.id
                 WHERE w.id = $1::uuid
                """, [workspace]
            ).rows[0]
            errors = [try row.decode(String.self, "workspace"), try row.decode(String.self, "plugins")]
            return errors.allSatisfy { $0?.contains("does not answer") == true }
        }
        #expect(noticed, "the hung runtime was not noticed: \(errors)")
        try await scrape("with a hung runtime")
    }

    /// The database refuses the sidecar's connections and drops the ones it has: the listener,
    /// the pool and the readiness check fail, and say why, until it takes them again.
    static func cutDatabaseOff(_ world: World, scrape: Scraper) async throws {
        let database = try await world.pool.query("SELECT current_database() AS name").rows[0].require(String.self, "name")
        let admin = try await TestDatabase.admin()
        try await admin.query("ALTER DATABASE \"\(database)\" ALLOW_CONNECTIONS false")
        try await admin.query(
            """
            SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name LIKE 'molecule-reconciler%'
            """, [database])
        #expect(
            try await CrashRestartTests.eventually(30) { await scrape.readiness() == 503 },
            "the sidecar stayed ready without its database")
        try await scrape("without a database")
        try await admin.query("ALTER DATABASE \"\(database)\" ALLOW_CONNECTIONS true")
        await admin.close()
        #expect(
            try await CrashRestartTests.eventually(30) { await scrape.readiness() == 200 },
            "the sidecar did not become ready again")
    }

    /// Reads the sidecar's endpoints and the database's sessions into the world's places.
    struct Scraper {
        let world: World
        let port: Int
        let client = CurlHTTPClient()

        func readiness() async -> Int? {
            try? await client.send(.init(url: "http://127.0.0.1:\(port)/readyz", timeoutMilliseconds: 500)).status
        }

        func callAsFunction(_ moment: String) async throws {
            for path in ["/metrics", "/readyz", "/healthz"] {
                let response = try await client.send(.init(url: "http://127.0.0.1:\(port)\(path)", timeoutMilliseconds: 2_000))
                world.keep("GET \(path) \(moment)", "HTTP \(response.status)\n\(response.headers)\n\(response.text)")
            }
            let sessions = try await world.pool.query(
                """
                SELECT coalesce(string_agg(application_name || ': ' || query, E'\\n'), '') AS sessions
                  FROM pg_stat_activity WHERE datname = current_database()
                """
            ).rows[0].require(String.self, "sessions")
            world.keep("pg_stat_activity \(moment)", sessions)
        }
    }
}
