import Foundation
import ProviderFakes
import Providers
import Testing

@Suite("provider fakes")
struct FakeProviderTests {
    let spec = InstanceSpec(workspaceID: "ws-1", generation: 3, image: "img", bundleName: "molecule/workspace/ws-1/config")

    @Test("a create whose response is lost happened; retrying with the same token adopts it")
    func lostResponseThenRetry() async throws {
        let cloud = FakeCloud()
        await cloud.inject(.loseResponse, on: "create")
        await #expect(throws: ProviderError.self) { _ = try await cloud.create(spec) }
        let retried = try await cloud.create(spec)
        #expect(await cloud.launches == 1)
        #expect(await cloud.live(workspaceID: "ws-1") == [retried])
        #expect(retried.idempotencyToken == "ws-1-g3")
    }

    @Test("a new instance may be missing from list for a while; terminate is idempotent")
    func eventualConsistency() async throws {
        let cloud = FakeCloud()
        await cloud.hideNewInstances(forListCalls: 2)
        let record = try await cloud.create(spec)
        #expect(try await cloud.list(workspaceID: "ws-1").isEmpty)
        #expect(try await cloud.list(workspaceID: "ws-1").isEmpty)
        #expect(try await cloud.list(workspaceID: "ws-1").map(\.id) == [record.id])
        try await cloud.terminate(instanceID: record.id)
        try await cloud.terminate(instanceID: record.id)
        #expect(await cloud.terminations == 1)
        #expect(try await cloud.list(workspaceID: "ws-1").first?.state == .terminated)
    }

    @Test("throttling carries its retry-after into the reconcile failure")
    func throttling() async throws {
        let cloud = FakeCloud()
        await cloud.inject(.throttle(.seconds(7)), on: "list")
        do {
            _ = try await cloud.list(workspaceID: "ws-1")
            Issue.record("not throttled")
        } catch let error as ProviderError {
            #expect(error.failure.reason == "ProviderThrottled")
            #expect(error.failure.retryAfter == .seconds(7))
            #expect(!error.isTerminal)
        }
    }

    @Test("a runtime that does not answer is unreachable: retried, not terminal; then it answers again")
    func unreachableRuntime() async throws {
        let runtimes = FakeRuntimes()
        await runtimes.start("i-1")
        await runtimes.inject(.error(.unreachable), on: "status")
        let instance = InstanceRecord(
            id: "i-1", workspaceID: "ws-1", generation: 1, idempotencyToken: "ws-1-g1",
            state: .running, address: "10.0.0.1:8080")
        let error = await #expect(throws: ProviderError.self) { try await runtimes.status(of: instance) }
        #expect(error?.kind == .unreachable && error?.isTerminal == false)
        #expect(error?.failure.reason == "ProviderUnreachable")
        #expect(try await runtimes.status(of: instance)?.ready == true)
    }

    @Test("a name scheduled for deletion refuses writes until restored; versions are idempotent per token")
    func secretDeletionWindow() async throws {
        let store = FakeSecretStore()
        let value = Data("bundle-v1".utf8)
        _ = try await store.put(name: "s", value: value, contentHash: "h1", versionToken: "t1")
        _ = try await store.put(name: "s", value: value, contentHash: "h1", versionToken: "t1")
        #expect(await store.puts == 1)
        try await store.delete(name: "s", recoveryWindowDays: 7)
        #expect(try await store.describe(name: "s")?.scheduledForDeletion == true)
        do {
            _ = try await store.put(name: "s", value: Data("v2".utf8), contentHash: "h2", versionToken: "t2")
            Issue.record("write accepted during the recovery window")
        } catch let error as ProviderError {
            #expect(error.kind == .scheduledForDeletion)
            #expect(error.failure.reason == "ScheduledForDeletion")
        }
        try await store.restore(name: "s")
        _ = try await store.put(name: "s", value: Data("v2".utf8), contentHash: "h2", versionToken: "t2")
        #expect(try await store.read(name: "s") == Data("v2".utf8))
        #expect(try await store.describe(name: "s")?.contentHash == "h2")
    }
}
