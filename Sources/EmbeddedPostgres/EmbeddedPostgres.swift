import Foundation
import Logging

/// A private PostgreSQL 15 server for local runs and tests: `initdb` into a directory of its
/// own, listening on a unix socket only (no TCP), run as the `postgres` user when we are root
/// (initdb refuses root), stopped with `stop()`.
///
/// A server already running on the same data directory (say, after a `kill -9` of the
/// reconciler) is adopted rather than started twice.
public final class EmbeddedPostgres: Sendable {
    public struct Options: Sendable {
        /// Where the cluster and its socket live. Default `defaultBaseDirectory`.
        public var baseDirectory: String
        /// The port number in the socket's name (no TCP port is opened). Default 5432.
        public var port: Int = 5432
        /// Durability. Tests turn it off for speed; default on.
        public var fsync: Bool = true
        /// PostgreSQL's binaries. Default `$MOLECULE_PG_BIN` or `/usr/lib/postgresql/15/bin`.
        public var binDirectory: String = ProcessInfo.processInfo.environment["MOLECULE_PG_BIN"] ?? "/usr/lib/postgresql/15/bin"
        /// Extra `-c name=value` server settings.
        public var settings: [String: String] = [:]

        public init(baseDirectory: String = EmbeddedPostgres.defaultBaseDirectory) {
            self.baseDirectory = baseDirectory
        }
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// A stable home that survives reboots and temp cleaners: `/var/lib/molecule-reconciler`
    /// for root, `$XDG_STATE_HOME/molecule-reconciler` (default `~/.local/state/...`) otherwise.
    public static var defaultBaseDirectory: String {
        defaultBaseDirectory(isRoot: isRoot, environment: ProcessInfo.processInfo.environment)
    }

    static func defaultBaseDirectory(isRoot: Bool, environment: [String: String]) -> String {
        if isRoot { return "/var/lib/molecule-reconciler" }
        let state =
            environment["XDG_STATE_HOME"].flatMap { $0.hasPrefix("/") ? $0 : nil }
            ?? ((environment["HOME"] ?? NSHomeDirectory()) as NSString).appendingPathComponent(".local/state")
        return (state as NSString).appendingPathComponent("molecule-reconciler")
    }

    public let options: Options
    private let logger: Logger

    public init(options: Options, logger: Logger) {
        self.options = options
        self.logger = logger
    }

    public var dataDirectory: String { (options.baseDirectory as NSString).appendingPathComponent("pgdata") }
    var socketDirectory: String { options.baseDirectory }
    /// The server's log (`pg_ctl -l`): every error it reports, with its DETAIL and statement.
    public var logFile: String { (options.baseDirectory as NSString).appendingPathComponent("postgres.log") }

    /// A libpq conninfo for `database` on this server.
    public func conninfo(database: String = "postgres") -> String {
        "host=\(socketDirectory) port=\(options.port) user=postgres dbname=\(database)"
    }

    /// Creates the cluster if needed and starts the server unless it already runs. Returns
    /// true when this call started it (so the caller owns stopping it), false when it adopted
    /// a running one.
    @discardableResult
    public func start() throws -> Bool {
        let initdb = (options.binDirectory as NSString).appendingPathComponent("initdb")
        guard FileManager.default.isExecutableFile(atPath: initdb) else {
            throw Failure(
                description:
                    "PostgreSQL 15 binaries not found in \(options.binDirectory) (install postgresql-15, or set MOLECULE_PG_BIN)")
        }
        try prepareDirectory()
        if !FileManager.default.fileExists(atPath: (dataDirectory as NSString).appendingPathComponent("PG_VERSION")) {
            logger.info("initialising embedded PostgreSQL", metadata: ["data": "\(dataDirectory)"])
            try runAsServerUser(
                initdb,
                [
                    "-D", dataDirectory, "-U", "postgres", "--auth=trust", "--encoding=UTF8",
                    "--locale=C", "--no-sync",
                ])
        }
        if isRunning() {
            logger.info("adopting running embedded PostgreSQL", metadata: ["socket": "\(socketDirectory)"])
            return false
        }
        var settings = [
            "listen_addresses": "''",
            "unix_socket_directories": "'\(socketDirectory)'",
            "port": "\(options.port)",
            "fsync": options.fsync ? "on" : "off",
            "max_connections": "200",
        ]
        if !options.fsync {
            settings["synchronous_commit"] = "off"
            settings["full_page_writes"] = "off"
        }
        settings.merge(options.settings) { $1 }
        let serverOptions = settings.sorted { $0.key < $1.key }.map { "-c \($0.key)=\($0.value)" }.joined(separator: " ")
        try runAsServerUser(pgCtl, ["start", "-w", "-t", "60", "-D", dataDirectory, "-l", logFile, "-o", serverOptions])
        logger.info("embedded PostgreSQL started", metadata: ["socket": "\(socketDirectory)", "port": "\(options.port)"])
        return true
    }

    /// `start()` on a dispatch thread: it blocks on initdb and pg_ctl, which must not hold a
    /// thread of Swift's cooperative pool.
    @discardableResult
    public func startInBackground() async throws -> Bool {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Bool, Error>) in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try self.start() })
            }
        }
    }

    /// Stops the server (fast shutdown: sessions are disconnected).
    public func stop() {
        guard isRunning() else { return }
        do {
            try runAsServerUser(pgCtl, ["stop", "-w", "-m", "fast", "-D", dataDirectory])
        } catch {
            logger.warning("stopping embedded PostgreSQL failed", metadata: ["error": "\(error)"])
        }
    }

    public func isRunning() -> Bool {
        (try? runAsServerUser(pgCtl, ["status", "-D", dataDirectory], quiet: true)) != nil
    }

    private var pgCtl: String { (options.binDirectory as NSString).appendingPathComponent("pg_ctl") }

    private static var isRoot: Bool { getuid() == 0 }

    private func prepareDirectory() throws {
        try FileManager.default.createDirectory(
            atPath: options.baseDirectory, withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700])
        if Self.isRoot {
            try runProcess("/bin/chown", ["postgres:postgres", options.baseDirectory])
        }
    }

    @discardableResult
    private func runAsServerUser(_ executable: String, _ arguments: [String], quiet: Bool = false) throws -> String {
        if Self.isRoot {
            return try runProcess("/usr/sbin/runuser", ["-u", "postgres", "--", executable] + arguments, quiet: quiet)
        }
        return try runProcess(executable, arguments, quiet: quiet)
    }

    /// posix_spawn + waitpid rather than Foundation's `Process`, whose exit detection can hang
    /// when the child leaves a daemon behind (`pg_ctl start` does). Output goes to a file, not
    /// a pipe, for the same reason: the daemon would inherit the pipe's write end.
    @discardableResult
    private func runProcess(_ executable: String, _ arguments: [String], quiet: Bool = false) throws -> String {
        let outputPath = NSTemporaryDirectory() + "molecule-pg-\(UUID().uuidString).out"
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable, &actions, nil, argv, environ)
        guard spawned == 0 else {
            throw Failure(description: "cannot run \(executable): \(String(cString: strerror(spawned)))")
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        let text = (FileManager.default.contents(atPath: outputPath)).map { String(decoding: $0, as: UTF8.self) } ?? ""
        let exited = (status & 0x7f) == 0
        let code = (status >> 8) & 0xff
        guard exited && code == 0 else {
            if !quiet {
                logger.debug("command failed", metadata: ["command": "\((executable as NSString).lastPathComponent)"])
            }
            let tool = arguments.first { !$0.hasPrefix("-") && $0 != "postgres" && $0 != "--" } ?? executable
            throw Failure(description: "\((tool as NSString).lastPathComponent) failed (exit \(code)): \(text.suffix(800))")
        }
        return text
    }
}
