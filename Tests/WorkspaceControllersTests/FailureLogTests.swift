import ControllerHost
import Foundation
import Logging
import Postgres
import PostgresTestSupport
import ProviderFakes
import Providers
import ReconcileRuntime
import Synchronization
import Testing
import WorkspaceControllers
import WorkspaceStore

/// The log line of a failed reconcile names what failed: the workspace's org and name beside
/// the controller, key, reconcile ID, fence and error.
@Suite("failure log lines")
struct FailureLogTests {
    /// Every event's metadata, as the handler receives it.
    final class Capture: Sendable {
        private let events = Mutex<[(level: Logger.Level, message: String, metadata: [String: String])]>([])
        var all: [(level: Logger.Level, message: String, metadata: [String: String])] { events.withLock { $0 } }
        func append(_ level: Logger.Level, _ message: String, _ metadata: [String: String]) {
            events.withLock { $0.append((level, message, metadata)) }
        }
    }

    struct CaptureHandler: LogHandler {
        let capture: Capture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .debug

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { $1 }
            capture.append(event.level, event.message.description, merged.mapValues { "\($0)" })
        }
    }

    @Test("a failed staging is logged with workspace.org and workspace.name (and without them when no subjects are given)")
    func failureNamesWorkspace() async throws {
        let pool = try await TestDatabase.create()
        try await pool.query(
            #"INSERT INTO templates (name, files) VALUES ('t', '{"config.yaml": "a: 1", "prompts/p.md": "hi"}')"#)
        let id = try await pool.query(
            "INSERT INTO workspaces (org, name, template, image) VALUES ('acme', 'seo', 't', 'img') RETURNING id"
        ).rows[0].require(String.self, "id")
        let store = FakeSecretStore()
        let capture = Capture()
        let logger = Logger(label: "test") { _ in CaptureHandler(capture: capture) }
        let controller = ReconcilerHost.Controller(
            SecretsBundleReconciler(store: BundleStore(pool: pool), secretStore: store))
        await store.inject(.error(.unreachable), on: "put", times: 2)

        _ = try await TickDriver(pool: pool, controllers: [controller], logger: logger).tick(now: nil, full: true)
        let unnamed = try #require(capture.all.first { $0.message.hasPrefix("reconcile failed") })
        #expect(unnamed.metadata["workspace.name"] == nil)

        _ = try await TickDriver(
            pool: pool, controllers: [controller.named(by: InstanceStore(pool: pool))], logger: logger
        ).tick(now: Date().addingTimeInterval(3_600), full: true)
        let named = try #require(capture.all.last { $0.message.hasPrefix("reconcile failed") })
        #expect(named.level == .warning)
        #expect(named.metadata["workspace.org"] == "acme")
        #expect(named.metadata["workspace.name"] == "seo")
        #expect(named.metadata["controller"] == "secret_bundles")
        #expect(named.metadata["resource.key"] == id)
        #expect(named.metadata["fence"].flatMap(Int64.init) != nil)
        #expect(named.metadata["reconcile.id"] != nil)
        #expect(named.metadata["error"]?.contains("put") == true)
    }

    @Test("a failed ingress write is logged with the tenant's name and hostname")
    func failureNamesTenant() async throws {
        let pool = try await TestDatabase.create()
        let id = try await pool.query(
            """
            INSERT INTO tenants (name, hostname, tunnel_id, services) VALUES
              ('acme', 'acme.example.com', 'tunnel-acme', '{"platform": "http://10.0.1.1:8080", "app": "http://10.0.1.1:3000"}')
            RETURNING id
            """
        ).rows[0].require(String.self, "id")
        let tunnels = FakeTunnels()
        await tunnels.inject(.error(.unreachable), on: "write", times: 1)
        let capture = Capture()
        let logger = Logger(label: "test") { _ in CaptureHandler(capture: capture) }
        let store = IngressStore(pool: pool)
        let writer = TunnelWriter(provider: tunnels, limiter: ProviderRateLimiter(rate: 1_000, burst: 1_000))
        let controller = ReconcilerHost.Controller(TunnelIngressReconciler(store: store, writer: writer)).named(by: store)
        _ = try await TickDriver(pool: pool, controllers: [controller], logger: logger).tick(now: nil, full: true)
        let failure = try #require(capture.all.first { $0.message.hasPrefix("reconcile failed") })
        #expect(failure.metadata["resource.key"] == id)
        #expect(failure.metadata["tenant.name"] == "acme")
        #expect(failure.metadata["tenant.hostname"] == "acme.example.com")
    }
}
