import Dispatch
import Foundation
import Providers

/// The embedded default's secret store: each secret is a directory under `root` (0700) holding
/// its versions as files (0600), a `current` pointer and, while scheduled for deletion, a
/// `deleted-at` marker — the lifecycle of AWS Secrets Manager, on local disk. Every write is
/// atomic (write a temporary file, fsync, rename, fsync the directory). A put keeps the new
/// current version and the one before it (a runtime that read the old pointer can still read
/// its version) and deletes the older ones. A file-system failure is reported in words, with
/// the operation and the secret's name, never with a path. File I/O runs on a dispatch queue,
/// not on Swift's cooperative pool.
///
/// With `reader`, a secret that has a reader (a workspace's bundle, when its runtime runs as a
/// user of its own) is readable by that user's group and nobody else: directories 0750 and files
/// 0640, the group the reader's, the owner still this process (`RuntimeIsolation`); `root` is
/// then 0711, so that a reader can pass through it but not list it.
public struct FileSecretStore: SecretStore {
    /// The user who may read a secret, by the secret's name; nil for nobody but this process.
    public typealias Reader = @Sendable (_ name: String) throws -> RuntimeUser?

    public let root: URL
    private let queue = DispatchQueue(label: "molecule.file-secret-store")
    private let clock: @Sendable () -> Date
    private let reader: Reader?

    /// - Parameters:
    ///   - clock: the time used for recovery windows (injectable for tests).
    ///   - reader: who may read each secret besides this process (default: nobody).
    public init(root: URL, clock: @escaping @Sendable () -> Date = Date.init, reader: Reader? = nil) {
        self.root = root
        self.clock = clock
        self.reader = reader
    }

    public func describe(name: String) async throws -> SecretDescription? {
        try await onQueue("describe", "describe secret \(name)") { try describeNow(name) }
    }

    public func put(name: String, value: Data, contentHash: String, versionToken: String) async throws -> String {
        let token = try safeComponent(versionToken)
        return try await onQueue("put", "stage version \(token) of secret \(name)") {
            let group = try reader?(name)?.gid
            let directory = try secretDirectory(name, create: true, group: group)
            if FileManager.default.fileExists(atPath: directory.appendingPathComponent("deleted-at").path) {
                throw error(.scheduledForDeletion, "put", "name \(name) is scheduled for deletion")
            }
            let versions = directory.appendingPathComponent("versions")
            let version = versions.appendingPathComponent(token)
            if let existing = FileManager.default.contents(atPath: version.path) {
                guard existing == value else {
                    throw error(.idempotencyMismatch, "put", "version \(token) exists with other content")
                }
            } else {
                try writeAtomically(value, to: version, group: group)
            }
            // A repeated put changes nothing, and keeps the version before it (and lets in a
            // reader given since it was written).
            let pointer = currentPointer(directory)
            guard pointer != [token, contentHash] else {
                if reader != nil {
                    for file in [version, directory.appendingPathComponent("current")] {
                        try FileAccess.set(file, group: group, mode: group == nil ? 0o600 : 0o640)
                    }
                }
                return token
            }
            try writeAtomically(
                Data("\(token)\n\(contentHash)\n".utf8), to: directory.appendingPathComponent("current"), group: group)
            try purgeVersions(in: versions, keeping: [token] + pointer.prefix(1))
            return token
        }
    }

    public func read(name: String) async throws -> Data {
        try await onQueue("read", "read secret \(name)") {
            guard let description = try describeNow(name), let current = description.currentVersion else {
                throw error(.notFound, "read", "no secret named \(name)")
            }
            if description.scheduledForDeletion {
                throw error(.scheduledForDeletion, "read", "name \(name) is scheduled for deletion")
            }
            let file = try secretDirectory(name, create: false).appendingPathComponent("versions").appendingPathComponent(current)
            guard let data = FileManager.default.contents(atPath: file.path) else {
                throw error(.notFound, "read", "version \(current) of \(name) is missing")
            }
            return data
        }
    }

    public func delete(name: String, recoveryWindowDays: Int) async throws {
        try await onQueue("delete", "schedule the deletion of secret \(name)") {
            guard (7...30).contains(recoveryWindowDays) else {
                throw error(.invalid, "delete", "recovery window must be 7 to 30 days, got \(recoveryWindowDays)")
            }
            guard let description = try describeNow(name), !description.scheduledForDeletion else { return }
            let deadline = clock().addingTimeInterval(Double(recoveryWindowDays) * 86_400)
            try writeAtomically(
                Data(String(deadline.timeIntervalSince1970).utf8),
                to: try secretDirectory(name, create: false).appendingPathComponent("deleted-at"),
                group: try reader?(name)?.gid)
        }
    }

    public func restore(name: String) async throws {
        try await onQueue("restore", "restore secret \(name)") {
            guard try describeNow(name) != nil else { throw error(.notFound, "restore", "no secret named \(name)") }
            let marker = try secretDirectory(name, create: false).appendingPathComponent("deleted-at")
            if FileManager.default.fileExists(atPath: marker.path) {
                try FileManager.default.removeItem(at: marker)
                try syncDirectory(marker.deletingLastPathComponent())
            }
        }
    }

    public func list(prefix: String) async throws -> [String] {
        try await onQueue("list", "list the secrets") {
            guard FileManager.default.fileExists(atPath: root.path) else { return [] }
            return try FileManager.default.contentsOfDirectory(atPath: root.path)
                .filter { !$0.hasPrefix(".") }
                .map { $0.replacingOccurrences(of: "%2F", with: "/") }
                .filter { $0.hasPrefix(prefix) }
                .sorted()
        }
    }

    /// Lets `group` read the secret as it is now (directories 0750, files 0640; a file removed
    /// meanwhile is skipped): for a secret staged before its reader was known. The caller's
    /// queue, not this store's.
    func grantNow(_ name: String, group: gid_t) throws {
        let directory = try secretDirectory(name, create: false)
        let versions = directory.appendingPathComponent("versions")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: versions.path)) ?? []
        let files =
            [directory.appendingPathComponent("current"), directory.appendingPathComponent("deleted-at")]
            + names.filter { !$0.hasPrefix(".") }.map { versions.appendingPathComponent($0) }
        let access: [(URL, mode_t)] = [(directory, 0o750), (versions, 0o750)] + files.map { ($0, 0o640) }
        for (url, mode) in access {
            do {
                try FileAccess.set(url, group: group, mode: mode)
            } catch let failure as FileAccess.Failure where failure.code == ENOENT {
                continue
            }
        }
    }

    /// Must run on `queue`. Purges a secret whose recovery window has passed.
    private func describeNow(_ name: String) throws -> SecretDescription? {
        let directory = try secretDirectory(name, create: false)
        guard FileManager.default.fileExists(atPath: directory.path) else { return nil }
        let marker = directory.appendingPathComponent("deleted-at")
        var scheduled = false
        if let text = FileManager.default.contents(atPath: marker.path).map({ String(decoding: $0, as: UTF8.self) }) {
            if let deadline = Double(text), clock().timeIntervalSince1970 >= deadline {
                try FileManager.default.removeItem(at: directory)
                return nil
            }
            scheduled = true
        }
        let pointer = currentPointer(directory)
        return SecretDescription(
            name: name, currentVersion: pointer.first, contentHash: pointer.dropFirst().first,
            scheduledForDeletion: scheduled)
    }

    /// The `current` file's lines: the version token, then the content hash; empty when absent.
    private func currentPointer(_ directory: URL) -> [String] {
        FileManager.default.contents(atPath: directory.appendingPathComponent("current").path)
            .map { String(decoding: $0, as: UTF8.self).split(separator: "\n").map(String.init) } ?? []
    }

    /// Deletes every version but `keeping`. Temporary files (dot files) are left alone: another
    /// writer may be about to rename one.
    private func purgeVersions(in versions: URL, keeping: [String]) throws {
        for entry in try FileManager.default.contentsOfDirectory(atPath: versions.path)
        where !entry.hasPrefix(".") && !keeping.contains(entry) {
            try FileManager.default.removeItem(at: versions.appendingPathComponent(entry))
        }
    }

    /// The secret's directory; with `create`, made (if missing) with the access its reader needs.
    private func secretDirectory(_ name: String, create: Bool, group: gid_t? = nil) throws -> URL {
        guard !name.isEmpty, name.count <= 512,
            name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "/_+=.@-".contains($0)) })
        else {
            throw error(.invalid, "name", "secret names are 1-512 characters of [A-Za-z0-9/_+=.@-]")
        }
        let directory = root.appendingPathComponent(name.replacingOccurrences(of: "/", with: "%2F"))
        if create {
            for path in [root, directory, directory.appendingPathComponent("versions")] {
                try FileManager.default.createDirectory(
                    at: path, withIntermediateDirectories: true,
                    attributes: [.posixPermissions: 0o700])
            }
            if reader != nil {
                try FileAccess.set(root, group: nil, mode: 0o711)
                for path in [directory, directory.appendingPathComponent("versions")] {
                    try FileAccess.set(path, group: group, mode: group == nil ? 0o700 : 0o750)
                }
            }
        }
        return directory
    }

    private func safeComponent(_ token: String) throws -> String {
        guard !token.isEmpty, token.count <= 128, token.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") })
        else {
            throw error(.invalid, "put", "version tokens are letters, digits and dashes")
        }
        return token
    }

    /// 0600, or 0640 for `group`.
    private func writeAtomically(_ data: Data, to url: URL, group: gid_t? = nil) throws {
        try AtomicFile.write(data, to: url, permissions: group == nil ? 0o600 : 0o640, group: group)
    }

    private func syncDirectory(_ directory: URL) throws {
        AtomicFile.syncDirectory(directory)
    }

    private func error(_ kind: ProviderError.Kind, _ operation: String, _ message: String) -> ProviderError {
        ProviderError(kind, provider: "secret store", operation: operation, message: message)
    }

    /// Runs `work` on the queue. An error of the file system becomes a transient `ProviderError`
    /// saying what could not be done (`cannot <what>: permission denied`), without a path.
    private func onQueue<T: Sendable>(
        _ operation: String, _ what: String,
        _ work: @escaping @Sendable () throws -> T
    ) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                continuation.resume(
                    with: Result {
                        do {
                            return try work()
                        } catch let failure as ProviderError {
                            throw failure
                        } catch {
                            throw self.error(.transient, operation, "cannot \(what): \(FileSystemFailure.reason(error))")
                        }
                    })
            }
        }
    }
}
