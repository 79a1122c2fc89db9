import Foundation

/// Sets who may use a file or directory the reconciler owns. Ownership always stays with the
/// reconciler (a runtime that owned a directory could replace an entry with a symbolic link and
/// have the reconciler write or delete through it); a runtime is let in through the group.
enum FileAccess {
    /// Which step failed and why, in words; no path (the caller names what it was doing).
    struct Failure: Error, CustomStringConvertible {
        var step: String
        var code: Int32

        var description: String { "\(step): \(FileSystemFailure.words(errno: code))" }
    }

    /// `chown` to (this process's user, `group` or this process's group), then `chmod` — in that
    /// order, since changing the owner may clear mode bits. Symbolic links are not followed.
    static func set(_ url: URL, group: gid_t?, mode: mode_t) throws {
        guard lchown(url.path, geteuid(), group ?? getegid()) == 0 else {
            throw Failure(step: "cannot set the owner", code: errno)
        }
        guard chmod(url.path, mode) == 0 else { throw Failure(step: "cannot set the permissions", code: errno) }
    }

    /// Creates the directory if it is missing (its parent must exist), then sets its access.
    static func directory(_ url: URL, group: gid_t?, mode: mode_t) throws {
        if mkdir(url.path, 0o700) != 0 && errno != EEXIST {
            throw Failure(step: "cannot create a directory", code: errno)
        }
        try set(url, group: group, mode: mode)
    }

    /// Creates the directory if it is missing and hands it to `user`: the one place a runtime
    /// may write (its home, its port file).
    static func ownedDirectory(_ url: URL, user: RuntimeUser) throws {
        if mkdir(url.path, 0o700) != 0 && errno != EEXIST {
            throw Failure(step: "cannot create a directory", code: errno)
        }
        guard lchown(url.path, user.uid, user.gid) == 0 else { throw Failure(step: "cannot set the owner", code: errno) }
        guard chmod(url.path, 0o700) == 0 else { throw Failure(step: "cannot set the permissions", code: errno) }
    }
}
