import Foundation
import LocalProviders
import Providers
import Testing

@Suite("HTTP plugin delivery")
struct HTTPPluginDeliveryTests {
    static let now = Date(timeIntervalSince1970: 1_699_395_200)  // Tue, 07 Nov 2023 22:13:20 GMT

    @Test(
        "429, and 503 with Retry-After, are throttled for as long as Retry-After says; a bare 503 is transient",
        arguments: [
            ("429 Too Many Requests", ["Retry-After: 7"], ProviderError.Kind.throttled(retryAfter: .seconds(7))),
            ("429 Too Many Requests", [], .throttled(retryAfter: nil)),
            ("503 Service Unavailable", ["retry-after: Tue, 07 Nov 2023 22:15:20 GMT"], .throttled(retryAfter: .seconds(120))),
            ("503 Service Unavailable", [], .transient),
        ])
    func throttling(status: String, headers: [String], expected: ProviderError.Kind) async throws {
        let server = try ScriptedHTTPServer([ScriptedHTTPServer.response(status, headers: headers)])
        defer { server.stop() }
        let instance = InstanceRecord(
            id: "i-1", workspaceID: "ws", generation: 1, idempotencyToken: "ws-g1",
            state: .running, address: "127.0.0.1:\(server.port)")
        let delivery = HTTPPluginDelivery(clock: { Self.now })
        let error = await #expect(throws: ProviderError.self) {
            try await delivery.install(plugin: "web-search", ref: "1.0", into: instance, token: "tok")
        }
        #expect(error?.kind == expected)
        if case .throttled(let after) = expected {
            #expect(error?.failure.retryAfter == after)
        }
    }
}
