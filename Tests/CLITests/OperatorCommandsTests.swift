import Foundation
import Postgres
import PostgresTestSupport
import ReconcileStore
import Testing

/// The operator's commands (`get`, `describe`, `status`, `wait`) run as the built binary
/// against a real database, their output compared with golden text where it is stable.
@Suite("operator commands")
struct OperatorCommandsTests {
    static func run(_ arguments: [String], _ pool: PostgresPool) throws -> CommandLineTests.Outcome {
        try CommandLineTests.run(arguments + ["--database-url", pool.configuration.conninfo, "--log-level", "error"])
    }

    /// The example fleet loaded, nothing reconciled yet: every status as the schema starts it.
    static func exampleFleet() async throws -> PostgresPool {
        let pool = try await TestDatabase.create(poolSize: 1)
        #expect(try await ExampleFleet.loadIfEmpty(pool, logger: TestDatabase.logger))
        return pool
    }

    /// The output with the AGE / LAST SEEN column's values (which move) replaced by `AGE`.
    static func maskingAges(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            line.replacingOccurrences(of: #"\b\d+[smhd]\b"#, with: "AGE", options: .regularExpression)
        }.joined(separator: "\n")
    }

    @Test("get workspaces, tenants and plugins print names, not UUIDs (golden)")
    func getTables() async throws {
        let pool = try await Self.exampleFleet()
        let workspaces = try Self.run(["get", "workspaces"], pool)
        #expect(workspaces.status == 0, "\(workspaces.output)")
        #expect(
            Self.maskingAges(workspaces.output) == """
                ORG    NAME        KIND       PHASE     READY     RESTART-PENDING   INSTANCE   AGE
                acme   concierge   platform   pending   Unknown   false             <none>     AGE
                acme   research    agent      pending   Unknown   false             <none>     AGE
                acme   seo-1       agent      pending   Unknown   false             <none>     AGE
                acme   seo-2       agent      pending   Unknown   false             <none>     AGE

                """)
        let tenants = try Self.run(["get", "tenants"], pool)
        #expect(
            Self.maskingAges(tenants.output) == """
                NAME     HOSTNAME                  TUNNEL          RULES    SKIPPED   CONVERGED   ERROR    AGE
                acme     acme.molecule.example     tunnel-acme     <none>   0         false       <none>   AGE
                globex   globex.molecule.example   tunnel-globex   <none>   0         false       <none>   AGE

                """)
        let plugins = try Self.run(["get", "plugins", "--org", "acme"], pool)
        #expect(
            plugins.output == """
                ORG    WORKSPACE   PLUGIN                  DESIRED   INSTALLED   BOOT
                acme   concierge   molecule-platform-mcp   1.6.1     <none>      false
                acme   seo-1       web-search              2.3.0     <none>      false
                acme   seo-2       web-search              2.3.0     <none>      false

                """)
        #expect(try Self.run(["get", "workspaces", "--org", "globex"], pool).output == "No workspaces found.\n")
        let wide = try Self.run(["get", "ws", "-o", "wide"], pool)
        #expect(
            wide.output.split(separator: "\n").first?.hasSuffix("DESIRED   ADDRESS   IMAGE                    REASON   ERROR")
                == true)
        #expect(try Self.run(["get", "gadgets"], pool).status == 64)
    }

    @Test("get -o json and -o yaml parse back to the same rows")
    func getStructured() async throws {
        let pool = try await Self.exampleFleet()
        let json = try Self.run(["get", "workspaces", "-o", "json"], pool)
        #expect(json.status == 0)
        let rows = try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [[String: Any]] ?? []
        #expect(rows.map { "\($0["org"]!)/\($0["name"]!)" } == ["acme/concierge", "acme/research", "acme/seo-1", "acme/seo-2"])
        #expect(rows.allSatisfy { $0["phase"] as? String == "pending" && $0["restartPending"] as? Bool == false })
        let yaml = try Self.run(["get", "tenants", "-o", "yaml"], pool)
        #expect(yaml.status == 0)
        #expect(yaml.output.contains("- appliedAt:") == false)
        #expect(yaml.output.contains("hostname: acme.molecule.example"))
        #expect(yaml.output.contains("tunnelID: tunnel-globex"))
    }

    @Test("get events lists them newest last, by object name")
    func getEvents() async throws {
        let pool = try await Self.exampleFleet()
        let ids = try await pool.query("SELECT name, id FROM workspaces").rows.reduce(into: [String: String]()) {
            $0[try $1.require(String.self, "name")] = try $1.require(String.self, "id")
        }
        let events = EventStore(pool: pool)
        let start = Date(timeIntervalSinceNow: -60)
        try await events.record(
            controller: "instances", key: ids["seo-1"]!, type: .normal, reason: "InstanceCreated", message: "created i-1",
            now: start)
        try await events.record(
            controller: "secret_bundles", key: ids["seo-2"]!, type: .warning, reason: "InvalidTemplate", message: "bad file",
            now: start.addingTimeInterval(30))
        let listed = try Self.run(["get", "events"], pool)
        #expect(
            Self.maskingAges(listed.output) == """
                LAST SEEN   TYPE      REASON            OBJECT                 CONTROLLER       COUNT   MESSAGE
                AGE         Normal    InstanceCreated   workspace/acme/seo-1   instances        1       created i-1
                AGE         Warning   InvalidTemplate   workspace/acme/seo-2   secret_bundles   1       bad file

                """)
        #expect(try Self.run(["get", "events", "--limit", "1"], pool).output.contains("InstanceCreated") == false)
    }

    @Test("describe workspace shows spec, instance, bundle, conditions, controllers and events")
    func describe() async throws {
        let pool = try await Self.exampleFleet()
        try await pool.query(
            """
            UPDATE instances SET instance_id = 'local-i-1', instance_generation = 1, instance_state = 'running',
                   address = '127.0.0.1:4000', attempts = 2, last_error = 'probe refused', next_attempt_at = now() + interval '1 hour'
             WHERE key = (SELECT id FROM workspaces WHERE name = 'seo-1')
            """)
        let described = try Self.run(["describe", "workspace", "acme/seo-1", "--state-dir", "/srv/state"], pool)
        #expect(described.status == 0, "\(described.output)")
        let id = try await pool.query("SELECT id FROM workspaces WHERE name = 'seo-1'").rows[0].require(String.self, "id")
        for expected in [
            "Name:                 acme/seo-1", "ID:                   \(id)", "Template:             seo-agent",
            "Restart Policy:       auto", "  ID:                 local-i-1", "  Address:            127.0.0.1:4000",
            "  Log:                /srv/state/instances/\(id)/local-i-1.log", "  Remediation:        0 of 3 used",
            "web-search   2.3.0     <none>", "instances         0/1          2          20",
            "probe refused", "Conditions:\n  <none>",
        ] {
            #expect(described.output.contains(expected), "missing \(expected) in\n\(described.output)")
        }
        let byID = try Self.run(["describe", "workspace", id, "-o", "json"], pool)
        let object = try JSONSerialization.jsonObject(with: Data(byID.output.utf8)) as? [String: Any]
        let detail = object?["detail"] as? [String: Any]
        #expect((detail?["workspace"] as? [String: Any])?["name"] as? String == "seo-1")
        #expect((detail?["controllers"] as? [[String: Any]])?.count == 3)
        let missing = try Self.run(["describe", "workspace", "acme/nope"], pool)
        #expect(missing.status == 1)
        #expect(missing.output.contains("workspace acme/nope not found"))
    }

    @Test("status: 0 converged, 3 not converged, 2 failing; -o json says the same")
    func statusExitCodes() async throws {
        let pool = try await TestDatabase.create(poolSize: 1)
        #expect(try Self.run(["status"], pool).status == 0)
        try await pool.query("INSERT INTO workspaces (org, name, image) VALUES ('ops', 'one', 'img')")
        let pending = try Self.run(["status"], pool)
        #expect(pending.status == 3, "\(pending.output)")
        #expect(pending.output.contains("fleet: not converged yet"))
        #expect(pending.output.contains("workspaces: 1 (pending 1); not converged 1, failing 0, restart_pending 0"))
        #expect(pending.output.contains("  workspace/ops/one generation 0/1"), "\(pending.output)")
        try await pool.query(
            "UPDATE instances SET last_error = 'provider throttled', attempts = 1 WHERE key = (SELECT id FROM workspaces)")
        try await pool.query("UPDATE workspaces SET phase = 'failed', last_error = 'instances: provider throttled'")
        let failing = try Self.run(["status", "-o", "json"], pool)
        #expect(failing.status == 2, "\(failing.output)")
        let report = try JSONSerialization.jsonObject(with: Data(failing.output.utf8)) as? [String: Any]
        #expect(report?["verdict"] as? Int == 2)
        let fleet = report?["fleet"] as? [String: Any]
        #expect(fleet?["failing"] as? Int == 1)
        #expect((fleet?["failures"] as? [[String: Any]])?.first?["object"] as? String == "workspace/ops/one")
    }

    @Test("wait times out naming the current phase, and succeeds when the row changes (LISTEN)")
    func waitForPhase() async throws {
        let pool = try await TestDatabase.create(poolSize: 1)
        try await pool.query("INSERT INTO workspaces (org, name, image) VALUES ('ops', 'one', 'img')")
        let timedOut = try Self.run(["wait", "workspace/ops/one", "--for", "condition=Ready", "--timeout", "1s"], pool)
        #expect(timedOut.status == 1)
        #expect(
            timedOut.output.contains(
                "timed out after 1s waiting for workspace/ops/one condition=Ready: phase pending, Ready Unknown"))
        let started = ContinuousClock.now
        let change = Task {
            try await Task.sleep(for: .milliseconds(1500))
            try await pool.query("UPDATE workspaces SET phase = 'running'")
        }
        let met = try Self.run(["wait", "workspace/ops/one", "--for", "phase=running", "--timeout", "60s"], pool)
        try await change.value
        #expect(met.status == 0, "\(met.output)")
        #expect(met.output.contains("workspace/ops/one phase=running met"))
        // Woken by the notification, not by the 60 s timeout (met at all says as much: nothing
        // polls). Starting the process alone took 20 s in a loaded parallel test pass.
        #expect(ContinuousClock.now - started < .seconds(50))
        #expect(try Self.run(["wait", "workspace/ops/nope", "--for", "phase=running"], pool).status == 1)
        #expect(try Self.run(["wait", "ops/one", "--for", "phase=running"], pool).status == 64)
    }

    @Test("commands other than run never start an embedded PostgreSQL, and say where they looked")
    func noEmbeddedStart() throws {
        let directory = NSTemporaryDirectory() + "molecule-none-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for command in [["status"], ["get", "workspaces"], ["tick"], ["explain", "a/b"], ["describe", "workspace", "a/b"]] {
            let outcome = try CommandLineTests.run(command + ["--embedded-dir", directory])
            #expect(outcome.status == 1, "\(command): \(outcome.output)")
            #expect(outcome.output.contains("no embedded PostgreSQL runs in \(directory)"), "\(command): \(outcome.output)")
        }
        #expect(!FileManager.default.fileExists(atPath: directory + "/pgdata"))
    }

    @Test("--version names the schema it needs; a mistyped command says so; help shows a command's own options")
    func commandLineGrammar() throws {
        let version = try CommandLineTests.run(["--version"])
        #expect(version.status == 0)
        #expect(version.output.hasPrefix("molecule-reconciler "))
        #expect(version.output.contains("(schema 0014_transition_joins_planned_per_statement)"))
        let typo = try CommandLineTests.run(["gte", "workspaces"])
        #expect(typo.status == 64)
        #expect(typo.output.contains("error: unknown command 'gte'; did you mean 'get'?"))
        #expect(!typo.output.contains("Usage: molecule-reconciler run"))
        let status = try CommandLineTests.run(["status", "--help"])
        // status says whether runtimes under that state directory would be isolated; it starts none.
        #expect(status.output.contains("--database-url") && status.output.contains("--state-dir"))
        #expect(!status.output.contains("--runtime-executable") && !status.output.contains("--http-port"))
        #expect(!status.output.contains("--instances") && !status.output.contains("--docker-image"))
        let run = try CommandLineTests.run(["run", "--help"])
        #expect(run.output.contains("--state-dir") && run.output.contains("--http-port"))
    }

    @Test("get -w prints each row that changes, as the database notifies it")
    func watch() async throws {
        let pool = try await Self.exampleFleet()
        let process = Process()
        process.executableURL = Bundle.main.executableURL!.deletingLastPathComponent().appendingPathComponent(
            "molecule-reconciler")
        process.arguments = [
            "get", "workspaces", "-w", "-o", "json", "--database-url", pool.configuration.conninfo, "--log-level", "error",
        ]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        defer { if process.isRunning { process.terminate() } }
        // A stuck watch ends the process, and with it the stream, instead of hanging the test.
        let deadline = Task {
            try await Task.sleep(for: .seconds(60))
            process.terminate()
        }
        defer { deadline.cancel() }
        let lines = Self.lines(output.fileHandleForReading)
        var iterator = lines.makeAsyncIterator()
        // The listing first (a JSON array over several lines), then one object per changed row.
        while let line = await iterator.next(), line != "]" {}
        try await pool.query("UPDATE workspaces SET phase = 'provisioning' WHERE name = 'seo-2'")
        let changed = try #require(await iterator.next())
        let row = try JSONSerialization.jsonObject(with: Data(changed.utf8)) as? [String: Any]
        #expect(row?["name"] as? String == "seo-2")
        #expect(row?["phase"] as? String == "provisioning")
        try await pool.query("UPDATE workspaces SET restart_pending = true WHERE name = 'research'")
        let next = try #require(await iterator.next())
        #expect(next.contains(#""name":"research""#) && next.contains(#""restartPending":true"#), "\(next)")
    }

    @Test("the default embedded location is $XDG_STATE_HOME/molecule-reconciler (for a user), not $TMPDIR")
    func defaultLocation() throws {
        let state = NSTemporaryDirectory() + "molecule-xdg-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: state) }
        let process = Process()
        process.executableURL = Bundle.main.executableURL!.deletingLastPathComponent().appendingPathComponent(
            "molecule-reconciler")
        process.arguments = ["status"]
        var environment = ProcessInfo.processInfo.environment
        for name in ["DATABASE_URL", "PGHOST", "PGPORT", "PGDATABASE", "PGUSER", "PGSERVICE", "PGHOSTADDR"] {
            environment.removeValue(forKey: name)
        }
        environment["XDG_STATE_HOME"] = state
        environment["TMPDIR"] = "/tmp/not-here"
        process.environment = environment
        let output = Pipe()
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 1)
        let expected = getuid() == 0 ? "/var/lib/molecule-reconciler" : "\(state)/molecule-reconciler"
        #expect(text.contains("no embedded PostgreSQL runs in \(expected)"), "\(text)")
    }

    /// A pipe's lines as they arrive (read on a thread of its own: reading blocks).
    static func lines(_ handle: FileHandle) -> AsyncStream<String> {
        AsyncStream { continuation in
            Thread {
                var buffer = Data()
                while true {
                    let chunk = handle.availableData
                    if chunk.isEmpty { break }
                    buffer.append(chunk)
                    while let newline = buffer.firstIndex(of: 10) {
                        continuation.yield(String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self))
                        buffer.removeSubrange(buffer.startIndex...newline)
                    }
                }
                continuation.finish()
            }.start()
        }
    }
}
