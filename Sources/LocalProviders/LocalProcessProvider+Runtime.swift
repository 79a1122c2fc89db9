import Foundation
import Providers

/// Starting a runtime process: its files, its user, its arguments and its environment.
extension LocalProcessProvider {
    /// The user the workspace's runtime runs as; nil for this process's own. Refused (with the
    /// setting named) when isolation is required and unavailable.
    func runtimeUser(_ workspaceID: String) throws -> RuntimeUser? {
        do {
            return try isolation.user(for: workspaceID)
        } catch {
            throw ProviderError(
                .transient, provider: "instances", operation: "create",
                message: "cannot choose the runtime's user: \(FileSystemFailure.reason(error))")
        }
    }

    /// `instances/` (0711), `instances/<workspace>/` (0710, the workspace's group) and its
    /// `home/` (0700, the workspace's user): the runtime can reach its home and nothing beside
    /// it; and its bundle readable by its group.
    func prepareIsolated(workspaceID: String, bundleName: String, user: RuntimeUser) throws {
        do {
            // A bundle staged before isolation was on (or before its reader was known) is let in too.
            try FileSecretStore(root: secretStoreRoot).grantNow(bundleName, group: user.gid)
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try FileAccess.set(directory, group: nil, mode: 0o711)
            try FileAccess.directory(directory.appendingPathComponent(workspaceID), group: user.gid, mode: 0o710)
            try FileAccess.ownedDirectory(home(workspaceID), user: user)
        } catch let failure as ProviderError {
            throw failure
        } catch {
            throw ProviderError(
                .transient, provider: "instances", operation: "create",
                message: "cannot prepare the runtime's directory: \(FileSystemFailure.reason(error))")
        }
    }

    /// The runtime's own directory when it runs as its own user.
    func home(_ workspaceID: String) -> URL {
        directory.appendingPathComponent(workspaceID).appendingPathComponent("home")
    }

    /// Where an instance's runtime writes its standard output and error.
    public func logFile(workspaceID: String, instanceID: String) -> URL {
        directory.appendingPathComponent(workspaceID).appendingPathComponent("\(instanceID).log")
    }

    func portFile(_ record: Record) -> URL {
        record.portFile.map { URL(fileURLWithPath: $0) }
            ?? directory.appendingPathComponent(record.workspaceID).appendingPathComponent("\(record.id).port")
    }

    /// The port a runtime wrote, or nil. The file may be in a directory the runtime owns, so it
    /// is opened without following a symbolic link or blocking on a FIFO, and only a port number
    /// is taken from it: the reconciler never reads, on a runtime's word, a file it cannot.
    static func readPort(_ file: URL) -> Int? {
        let fd = open(file.path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return nil }
        var buffer = [UInt8](repeating: 0, count: 16)
        let count = read(fd, &buffer, buffer.count)
        guard count > 0 else { return nil }
        let text = String(decoding: buffer.prefix(count), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let port = Int(text), (1...65_535).contains(port) else { return nil }
        return port
    }

    /// glibc's `POSIX_SPAWN_SETSID` (2.26+), which its header shows only to `_GNU_SOURCE` code.
    static let spawnNewSession: Int16 = 0x80

    func spawn(_ record: Record, bundleName: String, user: RuntimeUser?) throws -> Int32 {
        var arguments = [
            runtimeExecutable.path, "--secret-store", secretStoreRoot.path, "--bundle", bundleName,
            "--port-file", portFile(record).path,
        ]
        if let user { arguments += ["--uid", String(user.uid), "--gid", String(user.gid)] }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        // Opened by this process before the runtime drops its privileges: the log stays the
        // reconciler's (0600) and the runtime holds only the descriptor.
        let log = logFile(workspaceID: record.workspaceID, instanceID: record.id).path
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // The runtime must not inherit the reconciler's descriptors (its listening socket would
        // outlive a killed reconciler and block its restart).
        let inherited = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []).compactMap { Int32($0) }
        for descriptor in inherited where descriptor > 2 {
            posix_spawn_file_actions_addclose(&actions, descriptor)
        }
        let argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let home = user == nil ? directory.appendingPathComponent(record.workspaceID) : home(record.workspaceID)
        let envp = Self.environment(home: home.path).map { strdup($0) } + [nil]
        defer { envp.forEach { free($0) } }
        // A session of its own: runtimes outlive the reconciler by design, so a Ctrl-C or a
        // hangup of the reconciler's terminal (sent to its whole process group) must not reach them.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, Self.spawnNewSession)
        var pid: pid_t = 0
        let result = posix_spawn(&pid, runtimeExecutable.path, &actions, &attributes, argv, envp)
        guard result == 0 else {
            throw ProviderError(
                .transient, provider: "instances", operation: "create",
                message: "cannot start \(runtimeExecutable.lastPathComponent): \(String(cString: strerror(result)))")
        }
        return pid
    }

    /// A runtime's whole environment. `molecule-workspace-runtime` reads only its arguments and
    /// its bundle; `HOME` is the instance's own directory.
    static func environment(home: String) -> [String] {
        ["PATH=/usr/bin:/bin", "HOME=\(home)", "LANG=C.UTF-8"]
    }
}
