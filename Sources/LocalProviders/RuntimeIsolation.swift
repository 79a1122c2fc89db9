import Foundation

/// Whether the local runtimes run as users of their own, so that no workspace can read another
/// one's bundle, the tunnels' configurations or the reconciler's state.
///
/// With isolation the state directory is laid out so that a runtime reaches only what is its own:
///
/// | path | owner:group | mode | why |
/// |---|---|---|---|
/// | `<state>`, `secrets/`, `instances/` | reconciler | 0711 | runtimes pass through; none can list |
/// | `tunnels/`, `users/` | reconciler | 0700 | the reconciler's alone |
/// | `secrets/<bundle>/`, `versions/` | reconciler : the workspace's group | 0750 | only that runtime reads its bundle |
/// | their files (`current`, versions, `deleted-at`) | reconciler : the workspace's group | 0640 | |
/// | `instances/<workspace>/` | reconciler : the workspace's group | 0710 | records (0600) and logs (0600) stay the reconciler's |
/// | `instances/<workspace>/home/` | the workspace's user | 0700 | the runtime's `HOME` and port file |
///
/// The reconciler stays the owner of everything it writes: a runtime that owned a directory the
/// reconciler writes into could swap an entry for a symbolic link.
public enum RuntimeIsolation: Sendable {
    /// Each workspace's runtime runs as its own user from the table.
    case perWorkspaceUser(RuntimeUserTable)
    /// Runtimes run as the reconciler's own user; `reason` says why. When `required`, the
    /// provider refuses to start runtimes at all.
    case unavailable(reason: String, required: Bool)

    /// Isolation when this process can switch users (its effective uid is 0) and every directory
    /// above the state directory lets other users pass (or the runtimes could not reach their
    /// bundles); otherwise why not.
    public static func detect(stateDirectory: URL, uids: ClosedRange<uid_t>, required: Bool) -> RuntimeIsolation {
        guard geteuid() == 0 else {
            return .unavailable(
                reason: "the reconciler runs as uid \(geteuid()), not root, and cannot switch users", required: required)
        }
        if let closed = firstClosedAncestor(of: stateDirectory) {
            return .unavailable(
                reason: "\(closed) above the state directory does not let other users pass (o+x)", required: required)
        }
        return .perWorkspaceUser(RuntimeUserTable(directory: stateDirectory.appendingPathComponent("users"), range: uids))
    }

    /// One line for the log at start and for `status`.
    public var summary: String {
        switch self {
        case .perWorkspaceUser(let table):
            "each workspace's runtime runs as its own user (uids \(table.range.lowerBound)-\(table.range.upperBound))"
        case .unavailable(let reason, let required):
            required
                ? "runtimes are refused: isolation is required (--require-isolation, MOLECULE_REQUIRE_ISOLATION) but \(reason)"
                : "runtimes run as the reconciler's own user, and a workspace can read another's bundle: \(reason)"
        }
    }

    /// Sets the modes of the state directory's shared levels (the table above). Called once at
    /// start; the per-workspace levels are set by the stores as they write.
    public func prepare(stateDirectory: URL) throws {
        guard case .perWorkspaceUser = self else { return }
        try FileManager.default.createDirectory(at: stateDirectory, withIntermediateDirectories: true)
        try Self.refuseShared(stateDirectory)
        try FileAccess.set(stateDirectory, group: nil, mode: 0o711)
        for (name, mode) in [("secrets", 0o711), ("instances", 0o711), ("tunnels", 0o700), ("users", 0o700)] {
            try FileAccess.directory(stateDirectory.appendingPathComponent(name), group: nil, mode: mode_t(mode))
        }
    }

    /// A state directory is the reconciler's own: one that another user owns or may write into
    /// (`/tmp`, a home directory) is refused rather than re-moded under its other users.
    public struct SharedStateDirectory: Error, CustomStringConvertible {
        public var path: String
        public var reason: String
        public var description: String {
            "the state directory \(path) (--state-dir) \(reason): give the reconciler a directory of its own"
        }
    }

    private static func refuseShared(_ directory: URL) throws {
        var info = stat()
        guard lstat(directory.path, &info) == 0 else {
            throw FileAccess.Failure(step: "cannot read the state directory", code: errno)
        }
        if info.st_uid != geteuid() {
            throw SharedStateDirectory(path: directory.path, reason: "belongs to uid \(info.st_uid)")
        }
        if info.st_mode & (S_IWGRP | S_IWOTH) != 0 {
            throw SharedStateDirectory(
                path: directory.path, reason: "is writable by other users (mode \(String(info.st_mode & 0o7777, radix: 8)))")
        }
    }

    /// The user of a workspace's runtime; nil when runtimes run as the reconciler's user.
    /// Throws when isolation is required and unavailable.
    func user(for workspaceID: String) throws -> RuntimeUser? {
        switch self {
        case .perWorkspaceUser(let table): return try table.user(for: workspaceID)
        case .unavailable(_, let required):
            if required { throw RuntimeUserTable.Failure(description: summary) }
            return nil
        }
    }

    /// The user a workspace's container runs as (the Docker provider's `ContainerUserSource`),
    /// after letting its group read the workspace's bundle under `secretStoreRoot` (a bundle
    /// staged before isolation was on, or before its reader was known, is let in too); nil when
    /// runtimes run as the reconciler's user. Throws when isolation is required and unavailable.
    public func bundleReader(workspaceID: String, bundleName: String, secretStoreRoot: URL) throws -> RuntimeUser? {
        guard let user = try user(for: workspaceID) else { return nil }
        try FileSecretStore(root: secretStoreRoot).grantNow(bundleName, group: user.gid)
        return user
    }

    /// The nearest existing ancestor of `directory` (itself excluded) that other users cannot pass.
    private static func firstClosedAncestor(of directory: URL) -> String? {
        var path = directory.standardizedFileURL.deletingLastPathComponent()
        while path.path != "/" {
            var info = stat()
            if stat(path.path, &info) == 0 && info.st_mode & S_IXOTH == 0 { return path.path }
            path = path.deletingLastPathComponent()
        }
        return nil
    }
}
