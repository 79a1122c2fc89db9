import CurlHTTP
import Foundation
import Providers
import Testing

@testable import AWSProviders

/// The Secrets Manager store against moto, signatures checked.
@Suite("Secrets Manager store (moto)")
struct SecretsManagerStoreTests {
    static func name() -> String { "molecule/workspace/\(UUID().uuidString.lowercased())/config" }
    static func token(_ text: String) -> String { String(repeating: text, count: 64).prefix(64).description }

    @Test("put creates the secret with the token as its version; a repeat is a no-op; describe gives version and hash")
    func putDescribeRead() async throws {
        let moto = try await MotoProviders.make()
        let store = try moto.secretStore()
        let name = Self.name()
        #expect(try await store.describe(name: name) == nil)
        let version = try await store.put(
            name: name, value: Data("bundle-1".utf8), contentHash: "h1", versionToken: Self.token("a"))
        #expect(version == Self.token("a"))
        let described = try await store.describe(name: name)
        #expect(
            described
                == SecretDescription(name: name, currentVersion: Self.token("a"), contentHash: "h1", scheduledForDeletion: false))
        #expect(try await store.read(name: name) == Data("bundle-1".utf8))
        // The same version again: PutSecretValue with the same token and value does nothing new.
        _ = try await store.put(name: name, value: Data("bundle-1".utf8), contentHash: "h1", versionToken: Self.token("a"))
        #expect(try await store.describe(name: name)?.currentVersion == Self.token("a"))
        #expect(try await store.list(prefix: "molecule/workspace/").contains(name))
    }

    @Test("a value that goes A→B→A within one generation makes A current again")
    func abaMovesCurrent() async throws {
        let store = try await MotoProviders.make().secretStore()
        let name = Self.name()
        _ = try await store.put(name: name, value: Data("A".utf8), contentHash: "hA", versionToken: Self.token("a"))
        _ = try await store.put(name: name, value: Data("B".utf8), contentHash: "hB", versionToken: Self.token("b"))
        #expect(try await store.describe(name: name)?.contentHash == "hB")
        _ = try await store.put(name: name, value: Data("A".utf8), contentHash: "hA", versionToken: Self.token("a"))
        let described = try await store.describe(name: name)
        #expect(described?.currentVersion == Self.token("a") && described?.contentHash == "hA")
        #expect(try await store.read(name: name) == Data("A".utf8))
    }

    @Test("the same token with other content is an idempotency mismatch, not retried")
    func tokenReuse() async throws {
        let store = try await MotoProviders.make().secretStore()
        let name = Self.name()
        _ = try await store.put(name: name, value: Data("A".utf8), contentHash: "hA", versionToken: Self.token("a"))
        _ = try await store.put(name: name, value: Data("B".utf8), contentHash: "hB", versionToken: Self.token("b"))
        await #expect(throws: ProviderError.self) {
            do {
                _ = try await store.put(name: name, value: Data("C".utf8), contentHash: "hC", versionToken: Self.token("b"))
            } catch let error as ProviderError {
                #expect(error.kind == .idempotencyMismatch)
                throw error
            }
        }
    }

    @Test("delete schedules with a recovery window (a repeat is no error); reads refuse; restore brings it back")
    func deleteRestore() async throws {
        let store = try await MotoProviders.make().secretStore()
        let name = Self.name()
        _ = try await store.put(name: name, value: Data("A".utf8), contentHash: "hA", versionToken: Self.token("a"))
        try await store.delete(name: name, recoveryWindowDays: 7)
        try await store.delete(name: name, recoveryWindowDays: 7)
        #expect(try await store.describe(name: name)?.scheduledForDeletion == true)
        #expect(try await store.list(prefix: "molecule/workspace/").contains(name))
        await #expect(
            throws: ProviderError(
                .scheduledForDeletion, provider: "secret store", operation: "read",
                message: "name \(name) is scheduled for deletion")
        ) {
            _ = try await store.read(name: name)
        }
        try await store.restore(name: name)
        #expect(try await store.describe(name: name)?.scheduledForDeletion == false)
        #expect(try await store.read(name: name) == Data("A".utf8))
        await #expect(throws: ProviderError.self) { try await store.delete(name: name, recoveryWindowDays: 3) }
    }

    @Test("create on a name in its recovery window (moto: ResourceExistsException) is scheduledForDeletion")
    func createWhileScheduled() async throws {
        let moto = try await MotoProviders.make()
        let store = try moto.secretStore()
        let name = Self.name()
        _ = try await store.put(name: name, value: Data("A".utf8), contentHash: "hA", versionToken: Self.token("a"))
        try await store.delete(name: name, recoveryWindowDays: 7)
        // A create is what a put does when PutSecretValue says the name does not exist.
        let payload: [String: Any] = ["SecretString": "B", "ClientRequestToken": Self.token("b")]
        await #expect(throws: ProviderError.self) {
            do {
                _ = try await store.create(name: name, payload: payload, contentHash: "hB", versionToken: Self.token("b"))
            } catch let error as ProviderError {
                #expect(error.kind == .scheduledForDeletion)
                throw error
            }
        }
    }

    @Test("bundles over 64 KiB are refused with a clear error and no request")
    func oversize() async throws {
        let moto = try await MotoProviders.make()
        let store = try moto.secretStore()
        let before = moto.transport.operations.count
        do {
            _ = try await store.put(
                name: Self.name(), value: Data(count: 65_537), contentHash: "h", versionToken: Self.token("a"))
            Issue.record("an oversize bundle was accepted")
        } catch let error as ProviderError {
            #expect(error.kind == .invalid && error.isTerminal)
            #expect(error.message.contains("65537 bytes") && error.message.contains("at most 65536"))
        }
        #expect(moto.transport.operations.count == before)
    }

    @Test("throttling (ThrottlingException, HTTP 429 or 503) is the throttled class; Retry-After is kept")
    func throttling() async throws {
        let moto = try await MotoProviders.make()
        let store = try moto.secretStore()
        let answers = [
            RecordingTransport.jsonError(400, "ThrottlingException", "Rate exceeded"),
            CurlHTTPClient.Response(status: 429, headers: .init([.init(name: "Retry-After", value: "7")])),
            CurlHTTPClient.Response(status: 503, body: Data("Service Unavailable".utf8)),
        ]
        for answer in answers {
            moto.transport.intercept { _, _ in answer }
            do {
                _ = try await store.describe(name: Self.name())
                Issue.record("no error for \(answer.status)")
            } catch let error as ProviderError {
                guard case .throttled(let after) = error.kind else {
                    Issue.record("\(error) is not throttled")
                    continue
                }
                #expect(after == (answer.status == 429 ? .seconds(7) : nil))
                #expect(!error.isTerminal && error.failure.reason == "ProviderThrottled")
            }
        }
    }

    @Test("a wrong secret key: moto's signature check refuses it; the error names the code, never the key")
    func wrongKeyRefused() async throws {
        let moto = try await MotoProviders.make()
        let marker = "MARKER-secret-key-do-not-leak-0123456789"
        var environment = moto.endpoint.environment
        environment["AWS_SECRET_ACCESS_KEY"] = marker
        environment["AWS_SESSION_TOKEN"] = "MARKER-session-token-0123456789"
        let store = try SecretsManagerStore.make(settings: .init(), environment: environment, transport: moto.transport)
        do {
            _ = try await store.describe(name: Self.name())
            Issue.record("a request signed with the wrong key was accepted")
        } catch let error as ProviderError {
            #expect(error.kind == .invalid && error.isTerminal)
            let said = ["\(error)", String(reflecting: error), error.failure.message, error.message].joined(separator: "\n")
            #expect(!said.contains(marker) && !said.contains("MARKER-session-token"), "\(said)")
            #expect(
                error.message.contains("Signature") || error.message.contains("Token") || error.message.contains("Auth"),
                "\(error)")
        }
    }
}
