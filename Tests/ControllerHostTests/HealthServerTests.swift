import CurlHTTP
import Foundation
import HealthServer
import Logging
import Metrics
import Prometheus
import ServiceLifecycle
import Synchronization
import Testing

@Suite("health and metrics endpoints")
struct HealthServerTests {
    @Test("healthz answers, readyz reports readiness, metrics speak Prometheus")
    func endpoints() async throws {
        let registry = PrometheusCollectorRegistry()
        let factory = PrometheusMetricsFactory(registry: registry)
        let counter = factory.makeCounter(label: "workqueue_adds_total", dimensions: [("name", "instances")])
        counter.increment(by: 3)
        let port = Int.random(in: 20_000..<40_000)
        let ready = ReadyFlag()
        let server = HealthServer.make(
            host: "127.0.0.1", port: port, registry: registry,
            readiness: { ready.value ? nil : "database unreachable" },
            logger: Logger(label: "test"))
        let group = ServiceGroup(configuration: .init(services: [server], logger: Logger(label: "test")))
        let running = Task { try await group.run() }
        let client = CurlHTTPClient()
        var health: CurlHTTPClient.Response?
        for _ in 0..<100 {
            health = try? await client.send(.init(url: "http://127.0.0.1:\(port)/healthz", timeoutMilliseconds: 500))
            if health != nil { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(health?.status == 200)
        let notReady = try await client.send(.init(url: "http://127.0.0.1:\(port)/readyz"))
        #expect(notReady.status == 503)
        #expect(notReady.text.contains("database unreachable"))
        ready.value = true
        #expect(try await client.send(.init(url: "http://127.0.0.1:\(port)/readyz")).status == 200)
        let metrics = try await client.send(.init(url: "http://127.0.0.1:\(port)/metrics"))
        #expect(metrics.text.contains("workqueue_adds_total{name=\"instances\"} 3"))
        await group.triggerGracefulShutdown()
        try await running.value
    }

    @Test("a refused connection is a transport failure, not a status")
    func refused() async throws {
        await #expect(throws: CurlHTTPClient.Failure.self) {
            _ = try await CurlHTTPClient().send(.init(url: "http://127.0.0.1:1/", timeoutMilliseconds: 1_000))
        }
    }
}

final class ReadyFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    var value: Bool {
        get { flag.load(ordering: .relaxed) }
        set { flag.store(newValue, ordering: .relaxed) }
    }
}
