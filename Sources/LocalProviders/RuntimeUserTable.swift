import Foundation

/// Which uid each workspace's runtime runs as: one per workspace, from `range`, allocated once
/// and recorded under `directory` (the reconciler's own, 0700), so that every replica sharing
/// the state directory, and every restart, agrees.
///
/// - Stable: a workspace's first candidate is a hash of its ID; the next ones follow in order
///   (wrapping around the range), so a workspace keeps the uid it first got.
/// - Collision-free: a uid is claimed by creating `by-uid/<uid>` with `link(2)`, which fails if
///   it exists, so two workspaces never share one, whichever replica claims them; a uid that
///   belongs to a user or group the host knows (`/etc/passwd`, `/etc/group`, NSS) is skipped.
/// - Recorded: `by-workspace/<id>` holds the uid a workspace got and is read first; two replicas
///   racing for one workspace agree on whichever record was linked first.
/// - Never reused: the uid of a deleted workspace stays claimed (files it owned may remain), so a
///   range holds as many workspaces as it has uids.
public struct RuntimeUserTable: Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    public let directory: URL
    public let range: ClosedRange<uid_t>

    public init(directory: URL, range: ClosedRange<uid_t>) {
        self.directory = directory
        self.range = range
    }

    /// The user of `workspaceID`'s runtime, allocated on first use.
    public func user(for workspaceID: String) throws -> RuntimeUser {
        guard !workspaceID.isEmpty, workspaceID.count <= 128,
            workspaceID.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") })
        else {
            throw Failure(description: "a workspace ID is letters, digits and dashes")
        }
        let byUID = directory.appendingPathComponent("by-uid")
        let byWorkspace = directory.appendingPathComponent("by-workspace")
        for folder in [directory, byUID, byWorkspace] {
            try FileAccess.directory(folder, group: nil, mode: 0o700)
        }
        let record = byWorkspace.appendingPathComponent(workspaceID)
        if let uid = try Self.read(record).flatMap({ uid_t($0) }) { return RuntimeUser(uid: uid, gid: uid) }
        let uid = try claim(workspaceID, in: byUID)
        if try !Self.link(String(uid), to: record) {
            // Another replica recorded this workspace first: its uid wins (ours stays claimed).
            guard let recorded = try Self.read(record).flatMap({ uid_t($0) }) else {
                throw Failure(description: "the uid record of a workspace is unreadable")
            }
            return RuntimeUser(uid: recorded, gid: recorded)
        }
        return RuntimeUser(uid: uid, gid: uid)
    }

    private func claim(_ workspaceID: String, in byUID: URL) throws -> uid_t {
        let size = UInt64(range.upperBound - range.lowerBound) + 1
        let start = Self.hash(workspaceID) % size
        for step in 0..<size {
            let uid = range.lowerBound + uid_t((start + step) % size)
            let file = byUID.appendingPathComponent(String(uid))
            if let owner = try Self.read(file) {
                if owner == workspaceID { return uid }
                continue
            }
            if Self.hostKnows(uid) { continue }
            if try Self.link(workspaceID, to: file) || (try Self.read(file)) == workspaceID { return uid }
        }
        throw Failure(
            description: "every uid of the runtime range \(range.lowerBound)-\(range.upperBound) is taken; widen the range")
    }

    /// Creates `file` holding `text`, complete, or returns false if it exists.
    private static func link(_ text: String, to file: URL) throws -> Bool {
        let temporary = file.deletingLastPathComponent().appendingPathComponent(".\(UUID().uuidString).tmp")
        try AtomicFile.write(Data(text.utf8), to: temporary)
        defer { unlink(temporary.path) }
        if Foundation.link(temporary.path, file.path) == 0 {
            AtomicFile.syncDirectory(file.deletingLastPathComponent())
            return true
        }
        guard errno == EEXIST else {
            throw Failure(description: "cannot record a runtime uid: \(FileSystemFailure.words(errno: errno))")
        }
        return false
    }

    private static func read(_ file: URL) throws -> String? {
        guard let data = FileManager.default.contents(atPath: file.path) else {
            if FileManager.default.fileExists(atPath: file.path) {
                throw Failure(description: "a runtime uid record is unreadable")
            }
            return nil
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// A user or a group with this number exists on the host.
    private static func hostKnows(_ id: uid_t) -> Bool {
        var buffer = [CChar](repeating: 0, count: 16_384)
        var user = passwd()
        var userResult: UnsafeMutablePointer<passwd>?
        if getpwuid_r(id, &user, &buffer, buffer.count, &userResult) == 0, userResult != nil { return true }
        var group = group()
        var groupResult: UnsafeMutablePointer<group>?
        return getgrgid_r(id, &group, &buffer, buffer.count, &groupResult) == 0 && groupResult != nil
    }

    /// FNV-1a, 64 bits: stable across processes and releases (Swift's `Hasher` is seeded per process).
    static func hash(_ text: String) -> UInt64 {
        text.utf8.reduce(0xcbf2_9ce4_8422_2325) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
    }
}
