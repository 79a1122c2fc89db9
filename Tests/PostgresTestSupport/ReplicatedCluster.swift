import Foundation
import Postgres

/// A primary and a streaming standby (`pg_basebackup -R`) on unix sockets, for failover tests:
/// real replication, real promotion, and the faults an operator of an HA cluster meets (a
/// killed or fast-stopped primary, a hung one, a stalled walsender). Run as the `postgres` user
/// when we are root, as `EmbeddedPostgres` does. `tearDown()` kills both servers and removes the
/// directory, whatever the test's outcome.
public final class ReplicatedCluster: Sendable {
    public struct Server: Sendable {
        public var name: String
        public var port: Int
        public var dataDirectory: String
    }

    public let directory: String
    /// The server started as primary ("a") and the one started as standby ("b").
    public let first: Server
    public let second: Server
    public let database = "molecule"
    static let binDirectory =
        ProcessInfo.processInfo.environment["MOLECULE_PG_BIN"] ?? "/usr/lib/postgresql/15/bin"

    private init(directory: String, firstPort: Int) {
        self.directory = directory
        first = Server(name: "a", port: firstPort, dataDirectory: directory + "/a")
        second = Server(name: "b", port: firstPort + 1, dataDirectory: directory + "/b")
    }

    /// initdb and start the primary, let `prepare` set up its database (migrations, fixtures:
    /// copied by the base backup rather than streamed), then make and start the standby.
    /// `synchronous`: the primary waits for the standby's flush before acknowledging a commit
    /// (`synchronous_standby_names = '*'`).
    public static func start(
        synchronous: Bool,
        prepare: @Sendable (PostgresConfiguration) async throws -> Void = { _ in }
    ) async throws -> ReplicatedCluster {
        removeAbandoned()
        let directory = "/tmp/molecule-replicated-\(getpid())-\(UUID().uuidString.prefix(6))"
        let cluster = ReplicatedCluster(directory: directory, firstPort: Int.random(in: 40_000..<60_000))
        do {
            try await cluster.start(synchronous: synchronous, prepare: prepare)
        } catch {
            cluster.tearDown()
            throw error
        }
        return cluster
    }

    /// Removes the clusters of test processes killed before their `tearDown()`.
    private static func removeAbandoned() {
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/tmp")) ?? []
        where entry.hasPrefix("molecule-replicated-") {
            let owner = entry.dropFirst("molecule-replicated-".count).split(separator: "-").first.flatMap { Int32($0) }
            guard let owner, Foundation.kill(owner, 0) != 0 else { continue }
            ReplicatedCluster(directory: "/tmp/" + entry, firstPort: 0).tearDown()
        }
    }

    private func start(
        synchronous: Bool, prepare: @Sendable (PostgresConfiguration) async throws -> Void
    ) async throws {
        let cluster = self
        let directory = self.directory
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        if getuid() == 0 { try Self.run("/bin/chown", ["postgres:postgres", directory]) }
        try cluster.asServerUser(
            "initdb",
            ["-D", cluster.first.dataDirectory, "-U", "postgres", "--auth=trust", "--locale=C", "--no-sync"])
        let settings = [
            "wal_level": "replica", "max_wal_senders": "4", "hot_standby": "on", "fsync": "off",
            // The standby never gives up on a silent walsender by itself: a stopped walsender
            // stays the standby's only source (a reconnect would stream the tail it must lose).
            "wal_receiver_timeout": "0", "max_connections": "100",
        ]
        let conf = settings.sorted { $0.key < $1.key }.map { "\($0.key) = \($0.value)" }.joined(separator: "\n")
        try (conf + "\n").appendLine(to: cluster.first.dataDirectory + "/postgresql.conf")
        try cluster.startServer(cluster.first)
        let admin = PostgresConnection(configuration: .init(conninfo: cluster.conninfo(cluster.first, database: "postgres")))
        try await admin.query("CREATE DATABASE \(cluster.database)")
        await admin.close()
        try await prepare(.init(conninfo: cluster.conninfo(cluster.first)))
        try cluster.asServerUser(
            "pg_basebackup",
            [
                "-h", directory, "-p", "\(cluster.first.port)", "-U", "postgres", "-D", cluster.second.dataDirectory, "-R", "-X",
                "stream", "-c", "fast",
            ])
        try cluster.startServer(cluster.second)
        if synchronous {
            // Set after the base backup, so that the standby, once promoted, does not wait for a
            // standby of its own (as Patroni turns it off on a failover).
            let primary = PostgresConnection(configuration: .init(conninfo: cluster.conninfo(cluster.first)))
            try await primary.query("ALTER SYSTEM SET synchronous_standby_names = '*'")
            try await primary.query("SELECT pg_reload_conf()")
            await primary.close()
        }
    }

    /// One server's conninfo.
    public func conninfo(_ server: Server, database: String? = nil) -> String {
        "host=\(directory) port=\(server.port) user=postgres dbname=\(database ?? self.database)"
    }

    /// The conninfo an HA deployment gives the sidecar: both servers and the writable one
    /// wanted; the timeouts are the sidecar's defaults (`ConninfoDefaults`: each new session
    /// waits `connect_timeout`, 2 s, on a hung server listed before the promoted one).
    public var multiHostConninfo: String {
        "host=\(directory),\(directory) port=\(first.port),\(second.port) user=postgres dbname=\(database) "
            + "target_session_attrs=read-write"
    }

    /// `pg_ctl promote` (waits until the server accepts writes).
    public func promote(_ server: Server) throws {
        try asServerUser("pg_ctl", ["promote", "-w", "-t", "30", "-D", server.dataDirectory])
    }

    /// A planned stop: `pg_ctl stop -m fast` (sessions disconnected, WAL shipped to the standby).
    public func stopFast(_ server: Server) throws {
        try asServerUser("pg_ctl", ["stop", "-w", "-m", "fast", "-D", server.dataDirectory])
    }

    /// SIGKILL to the postmaster and every child, as a crashed machine.
    public func kill(_ server: Server) {
        for pid in processes(of: server) { Foundation.kill(pid, SIGKILL) }
    }

    /// SIGSTOP to the postmaster and every child: sockets stay open and nothing answers, like a
    /// hung machine or a partition that drops packets silently. Returns the pids stopped.
    @discardableResult
    public func stopProcesses(of server: Server) -> [Int32] {
        let pids = processes(of: server)
        for pid in pids { Foundation.kill(pid, SIGSTOP) }
        return pids
    }

    public func continueProcesses(_ pids: [Int32]) {
        for pid in pids { Foundation.kill(pid, SIGCONT) }
    }

    /// The walsender processes of `server` (streaming to the standby).
    public func walsenders(of server: Server) -> [Int32] {
        processes(of: server).filter { Self.commandLine($0).contains("walsender") }
    }

    /// Kills both servers and removes the directory (stopped processes are continued first).
    public func tearDown() {
        for server in [first, second] {
            let pids = processes(of: server)
            for pid in pids { Foundation.kill(pid, SIGKILL) }
            for pid in pids { Foundation.kill(pid, SIGCONT) }
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// The postmaster (from `postmaster.pid`) and its children (from /proc).
    public func processes(of server: Server) -> [Int32] {
        guard let text = try? String(contentsOfFile: server.dataDirectory + "/postmaster.pid", encoding: .utf8),
            let postmaster = text.split(separator: "\n").first.flatMap({ Int32($0) }), Foundation.kill(postmaster, 0) == 0
        else { return [] }
        var pids = [postmaster]
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(entry),
                let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                let close = stat.range(of: ")", options: .backwards)
            else { continue }
            // Fields after the command: state, ppid, ...
            let fields = stat[close.upperBound...].split(separator: " ")
            if fields.count > 1, Int32(fields[1]) == postmaster { pids.append(pid) }
        }
        return pids
    }

    private static func commandLine(_ pid: Int32) -> String {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return "" }
        return String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
    }

    private func startServer(_ server: Server) throws {
        let options = "-c listen_addresses='' -c unix_socket_directories='\(directory)' -c port=\(server.port)"
        try asServerUser(
            "pg_ctl",
            ["start", "-w", "-t", "60", "-D", server.dataDirectory, "-l", directory + "/\(server.name).log", "-o", options])
    }

    private func asServerUser(_ tool: String, _ arguments: [String]) throws {
        let executable = Self.binDirectory + "/" + tool
        if getuid() == 0 {
            try Self.run("/usr/sbin/runuser", ["-u", "postgres", "--", executable] + arguments)
        } else {
            try Self.run(executable, arguments)
        }
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// posix_spawn with output to a file (never a pipe: `pg_ctl start` leaves a daemon that
    /// would inherit it), waiting for the exit.
    private static func run(_ executable: String, _ arguments: [String]) throws {
        let output = NSTemporaryDirectory() + "molecule-replicated-\(UUID().uuidString).out"
        defer { try? FileManager.default.removeItem(atPath: output) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable, &actions, nil, argv, environ)
        guard spawned == 0 else { throw Failure(description: "cannot run \(executable): errno \(spawned)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        guard status == 0 else {
            let text = FileManager.default.contents(atPath: output).map { String(decoding: $0, as: UTF8.self) } ?? ""
            let command = ([executable] + arguments.prefix(5)).map { ($0 as NSString).lastPathComponent }.joined(separator: " ")
            throw Failure(description: "\(command) failed: \(text.suffix(600))")
        }
    }
}

extension String {
    fileprivate func appendLine(to path: String) throws {
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(utf8))
    }
}
