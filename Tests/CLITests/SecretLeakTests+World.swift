import Foundation
import Postgres
import PostgresTestSupport
import Synchronization
import WorkspaceModel

extension SecretLeakTests {
    /// One unique string per secret, all sharing `prefix`: a hit of the prefix anywhere is a leak
    /// of one of them, and the rest of the string names which.
    struct Markers {
        let prefix = "MARKER-\(UUID().uuidString)"
        var org: String { "\(prefix)-org" }
        var orgRotated: String { "\(prefix)-org-rotated" }
        func workspace(_ name: String) -> String { "\(prefix)-ws-\(name)" }
        var alphaRotated: String { "\(prefix)-ws-alpha-rotated" }
        var betaUnstaged: String { "\(prefix)-ws-beta-unstaged" }
        var refusedRow: String { "\(prefix)-refused-row" }
        var pgPassword: String { "\(prefix)-env-pgpassword" }
        var urlPassword: String { "\(prefix)-env-url-password" }
        var custom: String { "\(prefix)-env-custom" }
    }

    /// The database, the state directory, and the binary started with markers in its
    /// environment; every run's output, and whatever else is read on the way, is kept as a
    /// place to search.
    final class World: Sendable {
        let pool: PostgresPool
        let markers = Markers()
        let stateDir = NSTemporaryDirectory() + "molecule-leak-\(UUID().uuidString)"
        let logDir = NSTemporaryDirectory() + "molecule-leak-logs-\(UUID().uuidString)"
        let environment: [String: String]
        let runtimes: RuntimeSampler
        private let kept = Mutex<[LeakSearch.Place]>([])

        init() async throws {
            // A name of its own for the test's sessions: cutting the database off cuts the sidecar's only.
            let created = try await TestDatabase.create(poolSize: 1)
            var configuration = created.configuration
            configuration.applicationName = "molecule-leak-test"
            await created.close()
            pool = PostgresPool(configuration: configuration, size: 2)
            try FileManager.default.createDirectory(atPath: logDir, withIntermediateDirectories: true)
            var environment = ProcessInfo.processInfo.environment
            for name in ["DATABASE_URL", "PGHOST", "PGPORT", "PGDATABASE", "PGUSER", "PGSERVICE", "PGHOSTADDR"] {
                environment.removeValue(forKey: name)
            }
            // The server trusts local connections: the passwords are never asked for, only carried.
            environment["DATABASE_URL"] = configuration.conninfo + " password=\(markers.urlPassword)"
            environment["PGPASSWORD"] = markers.pgPassword
            environment["MOLECULE_TEST_SECRET"] = markers.custom
            self.environment = environment
            runtimes = RuntimeSampler.start(stateDir: stateDir)
        }

        func cleanUp() {
            runtimes.cancel()
            for pid in CrashRestartTests.runtimeProcesses(stateDir: stateDir).keys { kill(pid, SIGKILL) }
            try? FileManager.default.removeItem(atPath: stateDir)
            try? FileManager.default.removeItem(atPath: logDir)
        }

        /// Keeps `text`, read at `place`, for the search.
        func keep(_ place: String, _ text: String) {
            kept.withLock { $0.append(.init(name: place, text: text)) }
        }

        var places: [LeakSearch.Place] { kept.withLock { $0 } }

        struct Launched {
            let process: Process
            let name: String
            let exits: AsyncStream<Int32>
        }

        /// Starts `molecule-reconciler <arguments>` on this world's state, logging at trace level,
        /// its standard output and error written to files.
        func start(_ name: String, _ arguments: [String]) throws -> Launched {
            let process = Process()
            process.executableURL = CrashRestartTests.products.appendingPathComponent("molecule-reconciler")
            // Only the commands that run the providers (and describe, which names their files) take their options.
            let providers =
                ["run", "tick"].contains(arguments.first)
                ? [
                    "--state-dir", stateDir, "--runtime-executable",
                    CrashRestartTests.products.appendingPathComponent("molecule-workspace-runtime").path,
                ] : arguments.first == "describe" ? ["--state-dir", stateDir] : []
            process.arguments = arguments + providers + ["--log-level", "trace"]
            process.environment = environment
            let stdout = URL(fileURLWithPath: "\(logDir)/\(name).stdout")
            let stderr = URL(fileURLWithPath: "\(logDir)/\(name).stderr")
            try Data().write(to: stdout)
            try Data().write(to: stderr)
            process.standardOutput = try FileHandle(forWritingTo: stdout)
            process.standardError = try FileHandle(forWritingTo: stderr)
            let (exits, exited) = AsyncStream.makeStream(of: Int32.self)
            process.terminationHandler = { process in
                exited.yield(process.terminationReason == .exit ? process.terminationStatus : -process.terminationStatus)
                exited.finish()
            }
            try process.run()
            return Launched(process: process, name: name, exits: exits)
        }

        /// Waits for a started process to exit and keeps its output; returns its exit status (a
        /// signal as its negative) and its output.
        func finish(_ launched: Launched) async -> (status: Int32, output: String) {
            var status: Int32 = -1
            for await code in launched.exits { status = code }
            let output = output(of: launched.name)
            keep("\(launched.name) stdout", output.stdout)
            keep("\(launched.name) stderr", output.stderr)
            return (status, output.stdout + output.stderr)
        }

        func run(_ name: String, _ arguments: [String]) async throws -> (status: Int32, output: String) {
            await finish(try start(name, arguments))
        }

        func output(of name: String) -> (stdout: String, stderr: String) {
            let read = { (stream: String) in
                (try? String(contentsOfFile: "\(self.logDir)/\(name).\(stream)", encoding: .utf8)) ?? ""
            }
            return (read("stdout"), read("stderr"))
        }

        /// The bundle the secret store serves for a workspace now (its current version).
        func currentBundle(_ workspace: String) -> String? {
            let name = WorkspaceBundle.secretName(workspaceID: workspace).replacingOccurrences(of: "/", with: "%2F")
            let directory = "\(stateDir)/secrets/\(name)"
            guard let pointer = try? String(contentsOfFile: "\(directory)/current", encoding: .utf8),
                let version = pointer.split(separator: "\n").first
            else { return nil }
            return try? String(contentsOfFile: "\(directory)/versions/\(version)", encoding: .utf8)
        }

        /// Workspace name -> id.
        func workspaces() async throws -> [String: String] {
            try await pool.query("SELECT name, id FROM workspaces").rows.reduce(into: [:]) {
                $0[try $1.require(String.self, "name")] = try $1.require(String.self, "id")
            }
        }

        /// A controller table's `last_error` (or `workspaces.last_error`) for the workspace named.
        func lastError(_ table: String, workspace: String) async throws -> String? {
            try await lastError(table, key: table == "workspaces" ? "id" : "key", of: "workspaces", named: workspace)
        }

        /// `tunnel_ingress.last_error` of the tenant named.
        func lastError(_ table: String, tenant: String) async throws -> String? {
            try await lastError(table, key: "key", of: "tenants", named: tenant)
        }

        private func lastError(_ table: String, key: String, of owners: String, named name: String) async throws -> String? {
            try await pool.query(
                "SELECT last_error FROM \(table) WHERE \(key) = (SELECT id FROM \(owners) WHERE name = $1)", [name]
            )
            .rows[0].decode(String.self, "last_error")
        }
    }
}
