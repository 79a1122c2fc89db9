import Foundation
import Providers

/// Durable replacement of a file: write a temporary file beside it, fsync it, rename it over
/// the target, fsync the directory — a reader sees the old content or the new, never a mix,
/// even across a crash.
enum AtomicFile {
    static func write(_ data: Data, to url: URL, permissions: mode_t = 0o600, provider: String) throws {
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).tmp")
        let fd = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL, permissions)
        guard fd >= 0 else {
            throw ProviderError(.transient, provider: provider, operation: "write",
                                message: "cannot create \(temporary.lastPathComponent): errno \(errno)")
        }
        let written = data.withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd)
        close(fd)
        guard written == data.count, synced == 0, rename(temporary.path, url.path) == 0 else {
            unlink(temporary.path)
            throw ProviderError(.transient, provider: provider, operation: "write",
                                message: "cannot write \(url.lastPathComponent): errno \(errno)")
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
