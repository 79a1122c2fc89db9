import Foundation
import Testing

@testable import LocalProviders

@Suite("runtime user table")
struct RuntimeUserTableTests {
    func directory() -> URL {
        URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("users-\(UUID().uuidString)")
    }

    @Test("a workspace keeps its uid across tables (restarts, replicas); workspaces never share one")
    func stableAndDistinct() throws {
        let folder = directory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let range: ClosedRange<uid_t> = 61_000...61_007
        let workspaces = (0..<8).map { "ws-\($0)" }
        let first = try workspaces.map { try RuntimeUserTable(directory: folder, range: range).user(for: $0) }
        #expect(Set(first.map(\.uid)).count == 8)
        #expect(first.allSatisfy { range.contains($0.uid) && $0.gid == $0.uid })
        let again = try workspaces.reversed().map { try RuntimeUserTable(directory: folder, range: range).user(for: $0) }
        #expect(Array(again.reversed()) == first)
        // The range is full: a ninth workspace is refused, with what to do.
        #expect(throws: RuntimeUserTable.Failure.self) { try RuntimeUserTable(directory: folder, range: range).user(for: "ws-9") }
    }

    @Test("two replicas allocating at once agree on every workspace's uid, and no two share one")
    func concurrentReplicas() throws {
        let folder = directory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let range: ClosedRange<uid_t> = 61_000...61_063
        let results = UIDsByWorkspace()
        DispatchQueue.concurrentPerform(iterations: 128) { index in
            let workspace = "ws-\(index % 64)"
            let user = try? RuntimeUserTable(directory: folder, range: range).user(for: workspace)
            results.add(workspace, user?.uid)
        }
        let byWorkspace = results.snapshot()
        #expect(byWorkspace.count == 64)
        #expect(byWorkspace.values.allSatisfy { $0.count == 1 && $0.first! != nil })
        #expect(Set(byWorkspace.values.compactMap { $0.first! }).count == 64)
    }

    @Test("uids the host knows (root, daemon...) are never handed out")
    func hostUsersSkipped() throws {
        let folder = directory()
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(throws: RuntimeUserTable.Failure.self) { try RuntimeUserTable(directory: folder, range: 0...1).user(for: "ws-a") }
    }

    @Test("the first candidate is a stable hash (FNV-1a), not Swift's per-process seeded one")
    func stableHash() {
        #expect(RuntimeUserTable.hash("") == 0xcbf2_9ce4_8422_2325)
        #expect(RuntimeUserTable.hash("a") == 0xaf63_dc4c_8601_ec8c)
    }
}

/// The uids each workspace got, from many threads.
final class UIDsByWorkspace: @unchecked Sendable {
    // Guarded by `lock`; only `add` and `snapshot` touch `values`.
    private let lock = NSLock()
    private var values: [String: Set<uid_t?>] = [:]

    func add(_ workspace: String, _ uid: uid_t?) {
        lock.lock()
        values[workspace, default: []].insert(uid)
        lock.unlock()
    }

    func snapshot() -> [String: Set<uid_t?>] {
        lock.lock()
        defer { lock.unlock() }
        return values
    }
}
