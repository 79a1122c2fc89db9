import CurlHTTP
import Foundation
import Providers

/// Asks a runtime for its status over HTTP (`GET http://<address>/status`), for when no
/// platform writes heartbeats into `workspace_runtime_status` (the embedded default). Reading
/// it writes nothing, so a converged pass stays free of row writes.
public struct HTTPRuntimeProbe: RuntimeStatusSource {
    private let client = CurlHTTPClient()
    /// Per-probe timeout in milliseconds. Default 2 000.
    public var timeoutMilliseconds = 2_000

    public init() {}

    /// nil when the instance has no address yet, or its runtime does not answer.
    public func status(of instance: InstanceRecord) async throws -> RuntimeStatus? {
        guard let address = instance.address,
              let response = try? await client.send(.init(url: "http://\(address)/status", timeoutMilliseconds: timeoutMilliseconds)),
              response.status == 200 else { return nil }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        guard let reported = try? decoder.decode(RuntimeStatusDocument.self, from: response.body) else { return nil }
        return RuntimeStatus(ready: reported.ready, busySince: reported.busySince,
                             managementMCPPresent: reported.managementMCPPresent, plugins: reported.plugins,
                             bundleHash: reported.bundleHash, reportedAt: Date())
    }
}
