import Foundation
import LocalProviders
import Providers
import Testing

@Suite("HTTP runtime probe")
struct HTTPRuntimeProbeTests {
    func instance(_ server: ScriptedHTTPServer) -> InstanceRecord {
        InstanceRecord(
            id: "i-1", workspaceID: "ws", generation: 1, idempotencyToken: "ws-g1", state: .running,
            address: "127.0.0.1:\(server.port)")
    }

    @Test("a status document is the status; 404 and 503 are no status yet")
    func answers() async throws {
        let document = #"{"ready":true,"plugins":{"web-search":"1.0"},"bundle_hash":"h1","management_mcp_present":false}"#
        let server = try ScriptedHTTPServer([
            ScriptedHTTPServer.response("200 OK", body: document),
            ScriptedHTTPServer.response("503 Service Unavailable"),
            ScriptedHTTPServer.response("404 Not Found"),
        ])
        defer { server.stop() }
        let status = try #require(try await HTTPRuntimeProbe().status(of: instance(server)))
        #expect(status.ready && status.plugins == ["web-search": "1.0"] && status.bundleHash == "h1" && status.busySince == nil)
        #expect(try await HTTPRuntimeProbe().status(of: instance(server)) == nil)
        #expect(try await HTTPRuntimeProbe().status(of: instance(server)) == nil)
    }

    @Test("a 200 whose body is not a status document is invalid, naming what is wrong")
    func notADocument() async throws {
        let server = try ScriptedHTTPServer([ScriptedHTTPServer.response("200 OK", body: #"{"ready":"yes"}"#)])
        defer { server.stop() }
        let error = await #expect(throws: ProviderError.self) { try await HTTPRuntimeProbe().status(of: instance(server)) }
        #expect(error?.kind == .invalid && error?.isTerminal == true)
        #expect(error?.description.contains("runtime: status: instance i-1 at 127.0.0.1:\(server.port)") == true)
        #expect(error?.description.contains("'ready'") == true)
    }

    @Test("no answer in time, or a refused connection, is unreachable (retried), naming the address")
    func unreachable() async throws {
        let server = try ScriptedHTTPServer([.silence(seconds: 2)])
        var probe = HTTPRuntimeProbe()
        probe.timeoutMilliseconds = 200
        let silent = await #expect(throws: ProviderError.self) { try await probe.status(of: instance(server)) }
        server.stop()
        let refused = await #expect(throws: ProviderError.self) { try await probe.status(of: instance(server)) }
        for error in [silent, refused] {
            #expect(error?.kind == .unreachable && error?.isTerminal == false)
            #expect(error?.failure.reason == "ProviderUnreachable")
            #expect(error?.description.contains("instance i-1 at 127.0.0.1:\(server.port) does not answer") == true)
        }
    }
}
