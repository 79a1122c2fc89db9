import Foundation

/// Becomes the workspace's own user before anything else runs (`WorkspaceRuntime.main`, while
/// the main thread is the only one): supplementary groups cleared,
/// then the group, then the user (in that order: after `setuid` the group could no longer be
/// changed), then a check that root cannot be regained. Started as that user already, it
/// checks that it is. Anything else is an error, and the runtime does not start.
enum PrivilegeDrop {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Must run while this is the process's only thread: the kernel switches only the calling
    /// thread, and a thread already running would stay root.
    static func become(uid: uid_t, gid: gid_t) throws {
        let threads = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task"))?.count
        guard threads == 1 else {
            throw Failure(description: "cannot switch users safely: \(threads ?? 0) threads run already")
        }
        if geteuid() == 0 {
            guard setgroups(0, nil) == 0 else { throw failure("cannot clear the supplementary groups") }
            guard setgid(gid) == 0 else { throw failure("cannot switch to group \(gid)") }
            guard setuid(uid) == 0 else { throw failure("cannot switch to user \(uid)") }
        }
        guard getuid() == uid, geteuid() == uid, getgid() == gid, getegid() == gid else {
            throw Failure(
                description: "runs as uid \(geteuid()) gid \(getegid()), not as uid \(uid) gid \(gid), and cannot switch")
        }
        guard uid == 0 || (setuid(0) != 0 && geteuid() != 0) else {
            throw Failure(description: "could regain root after switching to user \(uid)")
        }
    }

    private static func failure(_ step: String) -> Failure {
        Failure(description: "\(step): \(String(cString: strerror(errno)))")
    }
}
