import Foundation

/// Durable replacement of a file: write a temporary file beside it, fsync it, rename it over
/// the target, fsync the directory — a reader sees the old content or the new, never a mix,
/// even across a crash.
enum AtomicFile {
    /// Which step failed and why, in words; no path (the caller names what it was writing).
    struct Failure: Error, CustomStringConvertible {
        var step: String
        var code: Int32

        var description: String { "\(step): \(FileSystemFailure.words(errno: code))" }
    }

    /// The file gets exactly `permissions` (whatever the umask), and `group` when given.
    static func write(_ data: Data, to url: URL, permissions: mode_t = 0o600, group: gid_t? = nil) throws {
        let temporary = url.deletingLastPathComponent().appendingPathComponent(
            ".\(url.lastPathComponent).\(UUID().uuidString).tmp")
        let fd = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL, permissions)
        guard fd >= 0 else { throw Failure(step: "cannot create a temporary file", code: errno) }
        if (group.map { fchown(fd, geteuid(), $0) } ?? 0) != 0 || fchmod(fd, permissions) != 0 {
            let code = errno
            close(fd)
            unlink(temporary.path)
            throw Failure(step: "cannot set a temporary file's access", code: code)
        }
        let written = data.withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
        // A short write without an errno is reported as an I/O error.
        var code: Int32 = written < 0 ? errno : (written == data.count ? 0 : EIO)
        if fsync(fd) != 0 && code == 0 { code = errno }
        close(fd)
        guard code == 0 else {
            unlink(temporary.path)
            throw Failure(step: "cannot write a temporary file", code: code)
        }
        guard rename(temporary.path, url.path) == 0 else {
            let renameError = errno
            unlink(temporary.path)
            throw Failure(step: "cannot replace the file", code: renameError)
        }
        syncDirectory(url.deletingLastPathComponent())
    }

    static func syncDirectory(_ directory: URL) {
        let fd = open(directory.path, O_RDONLY | O_DIRECTORY)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }
}
