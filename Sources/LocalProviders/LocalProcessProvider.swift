import Dispatch
import Foundation
import Providers

/// The embedded default's compute: every instance is a `molecule-workspace-runtime` process on
/// loopback. Each instance has a record file (written before the process is started, so a crash
/// between the two leaves a trace), holding its pid and the process's start time, so that a
/// restarted reconciler — even after `kill -9` — adopts running instances and never mistakes a
/// reused pid for one of them. Idempotent per token like EC2's ClientToken. A runtime gets its
/// bundle and nothing else: an explicit, minimal environment, never the reconciler's own
/// (`DATABASE_URL`, `PGPASSWORD`, cloud credentials...). Blocking work runs on a dispatch queue.
///
/// With `RuntimeIsolation.perWorkspaceUser`, each runtime runs as its workspace's own user (the
/// runtime drops root itself, given `--uid`/`--gid`), with `instances/<workspace>/home/` (0700,
/// its own) as `HOME` and the place of its port file, and nothing else of the state directory
/// open to it. Records and logs stay the reconciler's (0600): a runtime that could edit its
/// record could have the reconciler signal any pid.
public struct LocalProcessProvider: InstanceProvider {
    struct Record: Codable {
        var id: String
        var workspaceID: String
        var generation: Int64
        var token: String
        var pid: Int32
        var startTime: String?
        var terminated: Bool
        /// Absent in records written before owners existed: such instances are never swept.
        var owner: String?
        /// The user the runtime runs as; absent when it runs as the reconciler's.
        var uid: uid_t?
        /// Where the runtime writes its port; absent: `<workspace>/<id>.port`.
        var portFile: String?
    }

    public let directory: URL
    public let runtimeExecutable: URL
    public let secretStoreRoot: URL
    public let isolation: RuntimeIsolation
    let queue = DispatchQueue(label: "molecule.local-process-provider")

    /// - Parameters:
    ///   - directory: where instance records and port files live.
    ///   - runtimeExecutable: the `molecule-workspace-runtime` binary.
    ///   - secretStoreRoot: the file secret store the runtimes read their bundles from.
    ///   - isolation: whether runtimes run as users of their own (default: as this process's).
    public init(
        directory: URL, runtimeExecutable: URL, secretStoreRoot: URL,
        isolation: RuntimeIsolation = .unavailable(reason: "not configured", required: false)
    ) {
        self.directory = directory
        self.runtimeExecutable = runtimeExecutable
        self.secretStoreRoot = secretStoreRoot
        self.isolation = isolation
    }

    public func create(_ spec: InstanceSpec) async throws -> InstanceRecord {
        try await onQueue {
            let id = "local-\(spec.idempotencyToken)"
            if let existing = try read(workspaceID: spec.workspaceID, id: id) { return describe(existing) }
            let user = try runtimeUser(spec.workspaceID)
            var record = Record(
                id: id, workspaceID: spec.workspaceID, generation: spec.generation,
                token: spec.idempotencyToken, pid: 0, startTime: nil, terminated: false,
                owner: spec.owner, uid: user?.uid)
            if let user {
                try prepareIsolated(workspaceID: spec.workspaceID, bundleName: spec.bundleName, user: user)
                record.portFile = home(spec.workspaceID).appendingPathComponent("\(id).port").path
            }
            try write(record)
            record.pid = try spawn(record, bundleName: spec.bundleName, user: user)
            record.startTime = Self.startTime(of: record.pid)
            try write(record)
            return describe(record)
        }
    }

    public func list(workspaceID: String) async throws -> [InstanceRecord] {
        try await onQueue { try records(workspaceID: workspaceID).map(describe) }
    }

    public func listAll(owner: String) async throws -> [InstanceRecord] {
        try await onQueue {
            let workspaces = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
            return try workspaces.sorted().filter { UUID(uuidString: $0) != nil }
                .flatMap { try records(workspaceID: $0) }
                .filter { $0.owner == owner }
                .map(describe)
        }
    }

    public func terminate(instanceID: String) async throws {
        try await onQueue {
            guard var record = try findRecord(id: instanceID) else {
                throw ProviderError(
                    .notFound, provider: "instances", operation: "terminate",
                    message: "the instance ID '\(instanceID)' does not exist")
            }
            if isAlive(record) {
                kill(record.pid, SIGTERM)
                for _ in 0..<100 where isAlive(record) { usleep(50_000) }
                if isAlive(record) { kill(record.pid, SIGKILL) }
            }
            record.terminated = true
            try write(record)
        }
    }

    private func describe(_ record: Record) -> InstanceRecord {
        let alive = !record.terminated && isAlive(record)
        let port = Self.readPort(portFile(record))
        let state: InstanceState = alive ? (port == nil ? .pending : .running) : .terminated
        return InstanceRecord(
            id: record.id, workspaceID: record.workspaceID, generation: record.generation,
            idempotencyToken: record.token, state: state,
            address: alive ? port.map { "127.0.0.1:\($0)" } : nil)
    }

    /// Alive, and the same process that was started (not a reused pid). A zombie is dead,
    /// whoever its parent is (one that never reaps it keeps it in the process table). Reaps our
    /// own exited children so they do not linger as zombies.
    private func isAlive(_ record: Record) -> Bool {
        guard record.pid > 0 else { return false }
        var status: Int32 = 0
        if waitpid(record.pid, &status, WNOHANG) == record.pid { return false }
        guard kill(record.pid, 0) == 0, let stat = ProcessStat(pid: record.pid), !stat.isDead else { return false }
        return record.startTime == nil || stat.startTime == record.startTime
    }

    /// Field 22 of /proc/<pid>/stat: the process's start time in clock ticks since boot.
    static func startTime(of pid: Int32) -> String? {
        ProcessStat(pid: pid)?.startTime
    }

    /// Every record of a workspace, in ID order.
    private func records(workspaceID: String) throws -> [Record] {
        let folder = directory.appendingPathComponent(workspaceID)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return try names.filter { $0.hasSuffix(".json") }.sorted().compactMap { name in
            try read(workspaceID: workspaceID, id: String(name.dropLast(5)))
        }
    }

    private func read(workspaceID: String, id: String) throws -> Record? {
        let file = directory.appendingPathComponent(workspaceID).appendingPathComponent("\(id).json")
        guard let data = FileManager.default.contents(atPath: file.path) else { return nil }
        var record = try JSONDecoder().decode(Record.self, from: data)
        if record.pid == 0, !record.terminated, let pid = findProcess(of: record) {
            // The reconciler died between the spawn and the record's second write: the process
            // runs; adopt it rather than launching a second one.
            record.pid = pid
            record.startTime = Self.startTime(of: pid)
            try write(record)
        }
        return record
    }

    /// The runtime process started for this record, found by its `--port-file` argument
    /// (unique per instance) among the running processes.
    private func findProcess(of record: Record) -> Int32? {
        let portFile = portFile(record).path
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(entry), let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else {
                continue
            }
            let arguments = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            if let flag = arguments.firstIndex(of: "--port-file"), flag + 1 < arguments.count, arguments[flag + 1] == portFile {
                return pid
            }
        }
        return nil
    }

    private func findRecord(id: String) throws -> Record? {
        let workspaces = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        for workspace in workspaces {
            if let record = try read(workspaceID: workspace, id: id) { return record }
        }
        return nil
    }

    /// Records are the reconciler's alone (0600), whoever the runtime runs as.
    private func write(_ record: Record) throws {
        let folder = directory.appendingPathComponent(record.workspaceID)
        try FileManager.default.createDirectory(
            at: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try AtomicFile.write(try JSONEncoder().encode(record), to: folder.appendingPathComponent("\(record.id).json"))
    }

    private func onQueue<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try work() }) }
        }
    }
}
