import Hummingbird
import Logging
import Prometheus
import ServiceLifecycle

/// `/healthz` (the process answers), `/readyz` (the database is reachable and the listener is
/// live) and `/metrics` (Prometheus text format) on one HTTP listener.
public enum HealthServer {
    /// What `/readyz` asks: nil when ready, otherwise why not. Synchronous, so that it reads
    /// cached state (`ReadinessMonitor.notReadyReason`) and never waits for the database.
    public typealias ReadinessCheck = @Sendable () -> String?

    /// - Parameter version: the `version` label of `molecule_build_info`.
    public static func make(
        host: String, port: Int, registry: PrometheusCollectorRegistry,
        readiness: @escaping ReadinessCheck, version: String = "unknown", logger: Logger
    ) -> some Service {
        let process = ProcessMetrics(registry: registry, version: version)
        let router = Router()
        router.get("healthz") { _, _ in "ok\n" }
        router.get("readyz") { _, _ -> Response in
            if let reason = readiness() {
                return Response(
                    status: .serviceUnavailable, headers: [.contentType: "text/plain"],
                    body: .init(byteBuffer: ByteBuffer(string: "not ready: \(reason)\n")))
            }
            return Response(
                status: .ok, headers: [.contentType: "text/plain"], body: .init(byteBuffer: ByteBuffer(string: "ready\n")))
        }
        router.get("metrics") { _, _ -> Response in
            process.update()
            var buffer: [UInt8] = []
            registry.emit(into: &buffer)
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                body: .init(byteBuffer: ByteBuffer(bytes: buffer)))
        }
        return Application(router: router, configuration: .init(address: .hostname(host, port: port)), logger: logger)
    }
}
