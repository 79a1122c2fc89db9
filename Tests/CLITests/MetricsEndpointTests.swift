import CurlHTTP
import Foundation
import Postgres
import PostgresTestSupport
import Testing

/// The real `molecule-reconciler run` with JSON logs: its `/metrics` checked by Prometheus's own
/// linter (`promtool check metrics`), every metric the dashboard and the alert rules use found
/// in the scrape, a database outage seen in the metrics, and its log lines parsed back.
@Suite("metrics and logs of the real binary")
struct MetricsEndpointTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// Families the issue asks for, by name.
    static let required = [
        "process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds", "process_start_time_seconds",
        "molecule_build_info", "molecule_provider_requests_total", "molecule_provider_request_duration_seconds",
        "molecule_postgres_errors_total", "molecule_postgres_reconnects_total", "molecule_postgres_pool_wait_seconds",
        "molecule_database_up", "molecule_lease_acquisitions_total", "molecule_lease_losses_total",
        "molecule_lease_takeovers_total", "molecule_workspaces", "molecule_failing_keys", "molecule_due_keys",
        "molecule_remediation_circuit_open", "molecule_listener_connected", "controller_runtime_reconcile_total",
        "workqueue_unfinished_work_seconds", "workqueue_longest_running_processor_seconds", "workqueue_depth",
    ]

    @Test(
        "the scrape passes promtool, has HELP for every family and every metric the dashboard and alerts use; an outage moves it; JSON logs parse back; no secret anywhere",
        .timeLimit(.minutes(3)))
    func scrapeOutageAndLogs() async throws {
        let promtool = try Self.promtool()
        let fleet = try await LiveFleet.create("metrics")
        defer { fleet.tearDown() }
        let marker = "sk-METRICS-MARKER-\(UUID().uuidString)"
        let ids = try await fleet.addWorkspaces([("m1", "agent", "auto"), ("m2", "agent", "auto")])
        try await fleet.pool.query(
            "INSERT INTO workspace_secrets (workspace_id, key, value) VALUES ($1, 'API_KEY', $2)", [ids["m1"]!, marker])
        let port = CrashRestartTests.sidecarPort()
        let logFile = fleet.stateDir + "-stderr.jsonl"
        defer { try? FileManager.default.removeItem(atPath: logFile) }
        let sidecar = try Self.start(fleet, port: port, logFile: logFile)
        defer { if sidecar.isRunning { sidecar.terminate() } }
        let scrape = Scrape(port: port)

        try await fleet.expectRunning(Set(ids.values), seconds: 60)
        #expect(try await eventually(30) { (try? await scrape.value("molecule_workspaces", ["phase": "running"])) == 2 })
        let text = try await scrape.text()
        let exposition = Exposition(text)

        let lint = try Self.run(promtool, ["check", "metrics"], input: text)
        #expect(lint.status == 0 && lint.output.isEmpty, "promtool check metrics: \(lint.output)")
        #expect(exposition.families.count == exposition.helped.count, "families without HELP")
        for family in Self.required {
            #expect(exposition.families[family] != nil, "missing family \(family)")
        }
        #expect(try exposition.value("controller_runtime_reconcile_total", ["controller": "instances", "result": "success"]) > 0)
        #expect(
            try exposition.value(
                "molecule_provider_requests_total",
                ["provider": "local_process", "operation": "create", "result": "success"]) >= 2)
        #expect(try exposition.value("molecule_database_up", [:]) == 1)
        #expect(try exposition.value("molecule_listener_connected", [:]) == 1)

        // The dashboard and the alert rules use only metrics the binary exports.
        let dashboard = try String(
            contentsOf: Self.repository.appendingPathComponent("deploy/grafana/molecule-reconciler.json"), encoding: .utf8)
        let alerts = try String(
            contentsOf: Self.repository.appendingPathComponent("deploy/prometheus/alerts.yml"), encoding: .utf8)
        let parsed = try JSONSerialization.jsonObject(with: Data(dashboard.utf8)) as? [String: Any]
        let panels = (parsed?["panels"] as? [[String: Any]] ?? []).filter { $0["type"] as? String != "row" }
        #expect(panels.count >= 20)
        for panel in panels {
            let expressions = (panel["targets"] as? [[String: Any]] ?? []).compactMap { $0["expr"] as? String }
            #expect(!expressions.isEmpty, "panel \(panel["title"] ?? "?") has no query")
            for expression in expressions {
                #expect(!Exposition.metricNames(in: expression).isEmpty, "\(expression) uses none of the metrics")
            }
        }
        for (name, document) in [("dashboard", dashboard), ("alert rules", alerts)] {
            let referenced = Exposition.metricNames(in: document)
            #expect(referenced.count >= 5, "\(name) references \(referenced)")
            for metric in referenced {
                let exported = exposition.exports(metric)
                #expect(exported, "\(name) uses \(metric), which /metrics does not export")
            }
        }
        let rules = try Self.run(
            promtool, ["check", "rules", Self.repository.appendingPathComponent("deploy/prometheus/alerts.yml").path])
        #expect(rules.status == 0, "promtool check rules: \(rules.output)")

        // A database outage: connections refused, sessions ended.
        let errorsBefore = exposition.sum("molecule_postgres_errors_total")
        let database = try await fleet.pool.query("SELECT current_database() AS name").rows[0].require(String.self, "name")
        let admin = try await TestDatabase.admin()
        try await admin.query("ALTER DATABASE \"\(database)\" ALLOW_CONNECTIONS false")
        try await admin.query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            [database])
        let seen = try await eventually(30) {
            let during = Exposition(try await scrape.text())
            return try during.value("molecule_database_up", [:]) == 0 && during.value("molecule_listener_connected", [:]) == 0
                && during.sum("molecule_postgres_errors_total") > errorsBefore
        }
        let during = Exposition(try await scrape.text())
        #expect(
            seen,
            "during the outage: \(during.lines(of: "molecule_database_up") + during.lines(of: "molecule_postgres_errors_total"))")
        #expect(try during.value("molecule_database_check_failures_total", [:]) > 0)
        #expect(try during.value("molecule_listener_disconnects_total", [:]) > 0)
        try await admin.query("ALTER DATABASE \"\(database)\" ALLOW_CONNECTIONS true")
        await admin.close()
        #expect(
            try await eventually(30) {
                let after = Exposition(try await scrape.text())
                return try after.value("molecule_database_up", [:]) == 1 && after.value("molecule_listener_connected", [:]) == 1
            }, "the metrics did not show the database back")
        let after = try await scrape.text()

        sidecar.terminate()
        sidecar.waitUntilExit()
        let log = try String(contentsOfFile: logFile, encoding: .utf8)
        for (name, body) in [
            ("metrics", text), ("metrics during the outage", during.text), ("metrics after", after), ("logs", log),
        ] {
            #expect(!body.contains(marker), "the secret value is in the \(name)")
        }
        try Self.checkJSONLines(log)
    }

    /// Every line one JSON object with the fixed fields; the reconcile lines with their
    /// metadata; the outage's lines with their error.
    static func checkJSONLines(_ log: String) throws {
        let lines = log.split(separator: "\n")
        #expect(lines.count > 10)
        var objects: [[String: Any]] = []
        for line in lines {
            let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
            #expect(object != nil, "not a JSON object: \(line.prefix(300))")
            guard let object else { continue }
            #expect(object["timestamp"].flatMap { $0 as? String }.flatMap { Self.iso8601.date(from: $0) } != nil, "\(line)")
            #expect(["trace", "debug", "info", "notice", "warning", "error", "critical"].contains(object["level"] as? String))
            #expect((object["message"] as? String)?.isEmpty == false)
            objects.append(object)
        }
        let reconciled = objects.first { $0["message"] as? String == "reconciled" }
        #expect(reconciled?["controller"] as? String != nil)
        #expect((reconciled?["resource.key"] as? String).flatMap(UUID.init(uuidString:)) != nil)
        #expect((reconciled?["fence"] as? String).flatMap(Int64.init) != nil)
        #expect(reconciled?["reconcile.id"] as? String != nil)
        let failure = objects.first { ($0["level"] as? String) == "warning" && ($0["error"] as? String)?.isEmpty == false }
        #expect(failure != nil, "no warning with an error field during the outage")
    }

    static var iso8601: ISO8601DateFormatter {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter
    }

    static func start(_ fleet: LiveFleet, port: Int, logFile: String) throws -> Process {
        FileManager.default.createFile(atPath: logFile, contents: nil)
        let process = Process()
        process.executableURL = LiveFleet.products.appendingPathComponent("molecule-reconciler")
        process.arguments = [
            "run", "--database-url", fleet.pool.configuration.conninfo, "--state-dir", fleet.stateDir,
            "--runtime-executable", LiveFleet.products.appendingPathComponent("molecule-workspace-runtime").path,
            "--http-port", "\(port)", "--log-level", "debug",
        ]
        // The format through its environment variable; the option is covered by CommandLineTests.
        process.environment = ProcessInfo.processInfo.environment.merging(["MOLECULE_LOG_FORMAT": "json"]) { $1 }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle(forWritingAtPath: logFile)
        try process.run()
        return process
    }

    /// `promtool`, from Debian's `prometheus` package (`scripts/install-deps` installs it).
    static func promtool() throws -> String {
        let candidates = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":").map {
            "\($0)/promtool"
        }
        guard let path = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            Issue.record("promtool is not installed: run scripts/install-deps (Debian package prometheus)")
            throw CancellationError()
        }
        return path
    }

    static func run(_ executable: String, _ arguments: [String], input: String? = nil) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let output = Pipe()
        let stdin = Pipe()
        process.standardOutput = output
        process.standardError = output
        process.standardInput = stdin
        try process.run()
        stdin.fileHandleForWriting.write(Data((input ?? "").utf8))
        try stdin.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    struct Scrape {
        let port: Int
        let client = CurlHTTPClient()

        func text() async throws -> String {
            let response = try await client.send(.init(url: "http://127.0.0.1:\(port)/metrics", timeoutMilliseconds: 2_000))
            guard response.status == 200 else { throw CancellationError() }
            return response.text
        }

        func value(_ name: String, _ labels: [String: String]) async throws -> Double {
            try Exposition(try await text()).value(name, labels)
        }
    }
}
