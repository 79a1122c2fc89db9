import Foundation
import Postgres
import PostgresTestSupport
import Synchronization
import Testing

/// The fault tests: the real `molecule-reconciler run` binary and real runtime processes, hurt
/// from outside (SIGKILL, SIGSTOP) while a test watches /proc and the database. They run one at
/// a time, because they measure time on a small shared machine.
@Suite("runtime faults against the real binary", .serialized)
struct RuntimeFaultTests {}

/// A runtime process as /proc shows it: what really runs, not what the provider recorded.
struct RuntimeProcess: Hashable, Sendable {
    var pid: Int32
    var workspace: String
    /// From its port file's name, `local-<workspace>-g<generation>.port`.
    var generation: Int64
    var portFile: String

    /// Every runtime process started for `stateDir`. A zombie has no command line, so a runtime
    /// that exited is not one.
    static func all(stateDir: String) -> [RuntimeProcess] {
        var found: [RuntimeProcess] = []
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(entry),
                let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline")
            else { continue }
            let arguments = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            guard arguments.first?.hasSuffix("molecule-workspace-runtime") == true,
                let bundle = value(of: "--bundle", in: arguments),
                let portFile = value(of: "--port-file", in: arguments), portFile.hasPrefix(stateDir)
            else { continue }
            // The bundle is molecule/workspace/<id>/config; the port file ends in -g<generation>.port.
            let parts = bundle.split(separator: "/")
            let name = URL(fileURLWithPath: portFile).deletingPathExtension().lastPathComponent
            guard parts.count == 4, let marker = name.range(of: "-g", options: .backwards),
                let generation = Int64(name[marker.upperBound...])
            else { continue }
            found.append(RuntimeProcess(pid: pid, workspace: parts[2].lowercased(), generation: generation, portFile: portFile))
        }
        return found
    }

    private static func value(of flag: String, in arguments: [String]) -> String? {
        guard let index = arguments.firstIndex(of: flag), index + 1 < arguments.count else { return nil }
        return arguments[index + 1]
    }

    /// The loopback port the runtime announced, once it listens.
    var port: Int? {
        let text = try? String(contentsOfFile: portFile, encoding: .utf8)
        return text.flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }
}

/// Watches /proc from its own thread every `interval` for the runtimes of one state directory,
/// and keeps what the tests assert on: the most runtimes one workspace had at once. A thread,
/// not a task: reading /proc blocks.
final class RuntimeCensus: Sendable {
    struct Findings: Sendable {
        var samples = 0
        /// The most runtimes seen at once, per workspace.
        var most: [String: Int] = [:]
        /// Every moment a workspace had more than one runtime, described.
        var doubles: [String] = []

        var mostPerWorkspace: Int { most.values.max() ?? 0 }
    }

    private let findings = Mutex(Findings())
    private let stopped = Atomic(false)
    private let done = DispatchSemaphore(value: 0)

    init(stateDir: String, interval: Duration = .milliseconds(100)) {
        let thread = Thread { [self] in
            while !stopped.load(ordering: .relaxed) {
                let runtimes = RuntimeProcess.all(stateDir: stateDir)
                findings.withLock { findings in
                    findings.samples += 1
                    for (workspace, processes) in Dictionary(grouping: runtimes, by: \.workspace) {
                        findings.most[workspace] = max(findings.most[workspace] ?? 0, processes.count)
                        if processes.count > 1 {
                            findings.doubles.append("workspace \(workspace): pids \(processes.map(\.pid).sorted())")
                        }
                    }
                }
                Thread.sleep(forTimeInterval: interval.inSeconds)
            }
            done.signal()
        }
        thread.start()
    }

    var snapshot: Findings { findings.withLock { $0 } }

    /// Stops the thread and waits for its last sample.
    func stop() {
        guard !stopped.exchange(true, ordering: .relaxed) else { return }
        done.wait()
    }
}

/// A fresh database and state directory with `molecule-reconciler run` replicas on them: what the
/// fault tests run against. `tearDown()` kills every replica, then every runtime of the state
/// directory (a stopped one is continued first), whatever the test's outcome.
final class LiveFleet {
    static let products = Bundle.main.executableURL!.deletingLastPathComponent()
    let pool: PostgresPool
    let stateDir: String
    /// Replicas started and not yet killed or stopped.
    private(set) var replicas: [Process] = []
    /// Pids of the replicas killed.
    private(set) var killed: Set<Int32> = []
    /// Health ports are handed out below the ephemeral range (32768-), where runtimes bind theirs.
    private var nextPort = Int.random(in: 20_000..<30_000)
    /// Each replica's health port, by pid.
    private(set) var healthPorts: [Int32: Int] = [:]

    private init(pool: PostgresPool, stateDir: String) {
        self.pool = pool
        self.stateDir = stateDir
    }

    static func create(_ name: String) async throws -> LiveFleet {
        try await create(name, pool: try await TestDatabase.create(poolSize: 2))
    }

    /// A fleet on a database of the caller's (e.g. a `ReplicatedCluster`'s, through its host list).
    static func create(_ name: String, pool: PostgresPool) async throws -> LiveFleet {
        let stateDir = NSTemporaryDirectory() + "molecule-\(name)-\(UUID().uuidString)"
        try await pool.query(
            #"""
            INSERT INTO templates (name, files) VALUES ('t', '{"config.yaml": "a: 1", "prompts/p.md": "hi"}')
            """#)
        return LiveFleet(pool: pool, stateDir: stateDir)
    }

    /// Inserts workspaces of template `t`; returns their IDs by name.
    @discardableResult
    func addWorkspaces(
        _ specs: [(name: String, kind: String, policy: String)],
        desiredState: String = "running"
    ) async throws -> [String: String] {
        var ids: [String: String] = [:]
        for spec in specs {
            let row = try await pool.query(
                """
                INSERT INTO workspaces (org, name, template, image, desired_state, kind, restart_policy)
                VALUES ('acme', $1, 't', 'local', $2, $3, $4) RETURNING id
                """, [spec.name, desiredState, spec.kind, spec.policy]
            ).rows[0]
            ids[spec.name] = try row.require(String.self, "id")
        }
        return ids
    }

    /// Starts one more replica on its own health port, sweeping for orphans every
    /// `sweepInterval` seconds.
    @discardableResult
    func startReplica(sweepInterval: Int = 1) throws -> Process {
        let process = Process()
        process.executableURL = Self.products.appendingPathComponent("molecule-reconciler")
        process.arguments = [
            "run", "--database-url", pool.configuration.conninfo, "--state-dir", stateDir,
            "--runtime-executable", Self.products.appendingPathComponent("molecule-workspace-runtime").path,
            "--http-port", "\(nextPort)", "--sweep-interval", "\(sweepInterval)", "--log-level", "error",
        ]
        nextPort += 1
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        healthPorts[process.processIdentifier] = nextPort - 1
        replicas.append(process)
        return process
    }

    /// SIGKILL, as a crash or an OOM kill would.
    func kill(_ replica: Process) {
        Foundation.kill(replica.processIdentifier, SIGKILL)
        replica.waitUntilExit()
        replicas.removeAll { $0 === replica }
        killed.insert(replica.processIdentifier)
    }

    /// How long the leases that killed replicas kept are still held, at most (zero when none
    /// is). Holders are named `<host>:<pid>:<random>`.
    func leaseTimeKeptByKilledReplicas() async throws -> Duration {
        let rows = try await pool.query(
            """
            SELECT holder, extract(epoch FROM expires_at - now())::float8 AS wait FROM leases
             WHERE holder IS NOT NULL AND expires_at > now()
            """
        ).rows
        var longest = 0.0
        for row in rows {
            let parts = try row.require(String.self, "holder").split(separator: ":")
            guard parts.count >= 3, let pid = Int32(parts[parts.count - 2]), killed.contains(pid) else { continue }
            longest = max(longest, try row.require(Double.self, "wait"))
        }
        return .seconds(longest)
    }

    /// SIGTERM to every replica: they stop gracefully (leases released); runtimes keep running.
    func stopReplicas() {
        for replica in replicas { replica.terminate() }
        for replica in replicas { replica.waitUntilExit() }
        replicas = []
    }

    func tearDown() {
        for replica in replicas { Foundation.kill(replica.processIdentifier, SIGKILL) }
        for replica in replicas { replica.waitUntilExit() }
        replicas = []
        for runtime in runtimes() {
            Foundation.kill(runtime.pid, SIGCONT)
            Foundation.kill(runtime.pid, SIGKILL)
        }
        try? FileManager.default.removeItem(atPath: stateDir)
    }

    func runtimes() -> [RuntimeProcess] {
        RuntimeProcess.all(stateDir: stateDir)
    }

    /// `molecule-reconciler tick <arguments>` on this fleet's database and state directory.
    func tick(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = Self.products.appendingPathComponent("molecule-reconciler")
        process.arguments =
            ["tick"] + arguments + [
                "--database-url", pool.configuration.conninfo, "--state-dir", stateDir,
                "--runtime-executable", Self.products.appendingPathComponent("molecule-workspace-runtime").path,
                "--log-level", "error",
            ]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// A workspace's status as people read it.
    struct WorkspaceStatus: Sendable {
        var phase: String
        var lastError: String?
        var instanceReady: String?
        var targetGeneration: Int64
        var instanceGeneration: Int64
    }

    func status(of workspace: String) async throws -> WorkspaceStatus {
        let row = try await pool.query(
            """
            SELECT w.phase, w.last_error, w.conditions -> 'InstanceReady' ->> 'status' AS ready,
                   i.target_generation, i.instance_generation
              FROM workspaces w JOIN instances i ON i.key = w.id WHERE w.id = $1::uuid
            """, [workspace]
        ).rows[0]
        return WorkspaceStatus(
            phase: try row.require(String.self, "phase"), lastError: try row.decode(String.self, "last_error"),
            instanceReady: try row.decode(String.self, "ready"),
            targetGeneration: try row.require(Int64.self, "target_generation"),
            instanceGeneration: try row.require(Int64.self, "instance_generation"))
    }

    /// Phases of every workspace, by ID.
    func phases() async throws -> [String: String] {
        try await pool.query("SELECT id, phase FROM workspaces").rows.reduce(into: [:]) {
            $0[try $1.require(String.self, "id")] = try $1.require(String.self, "phase")
        }
    }

    /// Waits until every workspace in `workspaces` is `running` with exactly one runtime; an
    /// issue (with the phases and runtimes) if that takes longer than `seconds`.
    func expectRunning(
        _ workspaces: Set<String>, seconds: Double = 90,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let running = try await eventually(seconds) {
            let phases = try await self.phases()
            let runtimes = Dictionary(grouping: self.runtimes(), by: \.workspace)
            return workspaces.allSatisfy { phases[$0] == "running" && runtimes[$0]?.count == 1 }
        }
        let phases = try await self.phases()
        #expect(running, "phases \(phases), runtimes \(runtimes())", sourceLocation: sourceLocation)
    }
}

/// Polls `condition` every `interval` until it holds, for at most `seconds`; then once more.
func eventually(
    _ seconds: Double, every interval: Duration = .milliseconds(100),
    _ condition: () async throws -> Bool
) async throws -> Bool {
    let deadline = ContinuousClock.now + .seconds(seconds)
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: interval)
    }
    return try await condition()
}

extension Duration {
    /// In seconds, for figures and comparisons.
    var inSeconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}

extension Sequence {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var values: [T] = []
        for element in self { values.append(try await transform(element)) }
        return values
    }
}
