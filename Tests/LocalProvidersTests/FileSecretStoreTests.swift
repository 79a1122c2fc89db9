import Foundation
import LocalProviders
import Providers
import Synchronization
import Testing

@Suite("file secret store")
struct FileSecretStoreTests {
    final class TestClock: Sendable {
        private let seconds = Mutex<Double>(1_800_000_000)
        func now() -> Date { Date(timeIntervalSince1970: seconds.withLock { $0 }) }
        func advance(days: Double) { seconds.withLock { $0 += days * 86_400 } }
    }

    func makeStore() -> (FileSecretStore, TestClock, URL) {
        let root = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("fss-\(UUID().uuidString)")
        let clock = TestClock()
        return (FileSecretStore(root: root, clock: { clock.now() }), clock, root)
    }

    @Test("versions are written once, with 0600 files in 0700 directories")
    func versionsAndPermissions() async throws {
        let (store, _, root) = makeStore()
        defer { try? FileManager.default.removeItem(at: root) }
        let name = "molecule/workspace/ws-1/config"
        _ = try await store.put(name: name, value: Data("v1".utf8), contentHash: "h1", versionToken: "t1")
        _ = try await store.put(name: name, value: Data("v1".utf8), contentHash: "h1", versionToken: "t1")
        #expect(try await store.read(name: name) == Data("v1".utf8))
        #expect(
            try await store.describe(name: name)
                == SecretDescription(
                    name: name, currentVersion: "t1", contentHash: "h1",
                    scheduledForDeletion: false))
        let directory = root.appendingPathComponent("molecule%2Fworkspace%2Fws-1%2Fconfig")
        let version = directory.appendingPathComponent("versions/t1")
        let filePermissions = try FileManager.default.attributesOfItem(atPath: version.path)[.posixPermissions] as? Int
        let directoryPermissions = try FileManager.default.attributesOfItem(atPath: directory.path)[.posixPermissions] as? Int
        #expect(filePermissions == 0o600)
        #expect(directoryPermissions == 0o700)
        await #expect(throws: ProviderError.self) {
            _ = try await store.put(name: name, value: Data("other".utf8), contentHash: "h2", versionToken: "t1")
        }
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".tmp") }
        #expect(leftovers.isEmpty)
    }

    @Test("deletion behaves like Secrets Manager: refused writes in the window, restore, purge after it")
    func recoveryWindow() async throws {
        let (store, clock, root) = makeStore()
        defer { try? FileManager.default.removeItem(at: root) }
        _ = try await store.put(name: "s", value: Data("v1".utf8), contentHash: "h1", versionToken: "t1")
        try await store.delete(name: "s", recoveryWindowDays: 7)
        #expect(try await store.describe(name: "s")?.scheduledForDeletion == true)
        do {
            _ = try await store.put(name: "s", value: Data("v2".utf8), contentHash: "h2", versionToken: "t2")
            Issue.record("write accepted in the recovery window")
        } catch let error as ProviderError {
            #expect(error.kind == .scheduledForDeletion)
        }
        try await store.restore(name: "s")
        _ = try await store.put(name: "s", value: Data("v2".utf8), contentHash: "h2", versionToken: "t2")
        try await store.delete(name: "s", recoveryWindowDays: 7)
        clock.advance(days: 8)
        #expect(try await store.describe(name: "s") == nil)
        _ = try await store.put(name: "s", value: Data("v3".utf8), contentHash: "h3", versionToken: "t3")
        #expect(try await store.read(name: "s") == Data("v3".utf8))
    }

    @Test("a put keeps the current version and the one before it, and deletes older ones")
    func versionsArePruned() async throws {
        let (store, _, root) = makeStore()
        defer { try? FileManager.default.removeItem(at: root) }
        let versions = root.appendingPathComponent("s/versions")
        func kept() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: versions.path).sorted() }
        for n in 1...3 {
            _ = try await store.put(name: "s", value: Data("v\(n)".utf8), contentHash: "h\(n)", versionToken: "t\(n)")
        }
        #expect(try kept() == ["t2", "t3"])
        #expect(try await store.read(name: "s") == Data("v3".utf8))
        // A repeated put changes nothing and keeps the version before it.
        _ = try await store.put(name: "s", value: Data("v3".utf8), contentHash: "h3", versionToken: "t3")
        #expect(try kept() == ["t2", "t3"])
        _ = try await store.put(name: "s", value: Data("v4".utf8), contentHash: "h4", versionToken: "t4")
        #expect(try kept() == ["t3", "t4"])
        #expect(try await store.describe(name: "s")?.currentVersion == "t4")
    }

    @Test("a file-system failure says in words what failed and for which secret, never a path")
    func failuresInWords() async throws {
        let (store, _, root) = makeStore()
        defer { try? FileManager.default.removeItem(at: root) }
        func failure(_ operation: () async throws -> Void) async -> ProviderError? {
            do {
                try await operation()
                Issue.record("no failure")
                return nil
            } catch let error as ProviderError {
                return error
            } catch {
                Issue.record("not classified: \(error)")
                return nil
            }
        }
        // The store's root is a file: no secret directory can be created.
        try Data("in the way".utf8).write(to: root)
        let blocked = await failure {
            _ = try await store.put(
                name: "molecule/workspace/ws-1/config", value: Data("v".utf8), contentHash: "h", versionToken: "t1")
        }
        #expect(blocked?.kind == .transient && blocked?.operation == "put")
        #expect(
            blocked?.message.hasPrefix("cannot stage version t1 of secret molecule/workspace/ws-1/config: ") == true,
            "\(String(describing: blocked))")
        try FileManager.default.removeItem(at: root)

        // The versions directory is a file: no version can be written.
        _ = try await store.put(name: "s", value: Data("v1".utf8), contentHash: "h1", versionToken: "t1")
        let versions = root.appendingPathComponent("s/versions")
        try FileManager.default.removeItem(at: versions)
        try Data("in the way".utf8).write(to: versions)
        let unwritable = await failure {
            _ = try await store.put(name: "s", value: Data("v2".utf8), contentHash: "h2", versionToken: "t2")
        }
        #expect(unwritable?.message == "cannot stage version t2 of secret s: a file is in the way")

        // Permission bits do not stop root; as any other user, a read-only secret directory does.
        if getuid() != 0 {
            try FileManager.default.removeItem(at: versions)
            try FileManager.default.setAttributes([.posixPermissions: 0o500], ofItemAtPath: root.appendingPathComponent("s").path)
            defer {
                try? FileManager.default.setAttributes(
                    [.posixPermissions: 0o700], ofItemAtPath: root.appendingPathComponent("s").path)
            }
            let denied = await failure {
                _ = try await store.put(name: "s", value: Data("v2".utf8), contentHash: "h2", versionToken: "t2")
            }
            #expect(denied?.message == "cannot stage version t2 of secret s: permission denied")
        }
        for error in [blocked, unwritable].compactMap({ $0 }) {
            #expect(!error.description.contains(root.lastPathComponent), "a path reached the message: \(error)")
            #expect(!error.description.contains("Domain") && !error.description.contains("errno"), "\(error)")
        }
    }
}
