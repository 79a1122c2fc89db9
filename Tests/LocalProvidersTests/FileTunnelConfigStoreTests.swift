import Foundation
import LocalProviders
import Providers
import Testing

@Suite("file tunnel config store")
struct FileTunnelConfigStoreTests {
    let configuration = TunnelConfiguration(ingress: [
        IngressRule(hostname: "acme.example.com", path: #"^/v1\.2/api(/|$)"#, service: "http://10.0.0.1:8080"),
        IngressRule(hostname: "acme.example.com", service: "http://10.0.0.1:3000"),
        IngressRule(service: "http_status:404"),
    ])

    @Test("renders cloudflared's config.yml, reads it back equal, byte-identical on rewrite")
    func roundTrip() async throws {
        let root = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("tunnels-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let store = FileTunnelConfigStore(root: root)
        #expect(try await store.read(tunnelID: "t-1") == nil)
        try await store.write(tunnelID: "t-1", configuration)
        #expect(try await store.read(tunnelID: "t-1") == configuration)
        let file = try store.file(tunnelID: "t-1")
        let first = try Data(contentsOf: file)
        #expect(String(decoding: first, as: UTF8.self).contains("""
            tunnel: "t-1"
            ingress:
              - hostname: "acme.example.com"
                path: "^/v1\\\\.2/api(/|$)"
                service: "http://10.0.0.1:8080"
            """))
        try await store.write(tunnelID: "t-1", configuration)
        #expect(try Data(contentsOf: file) == first)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: file.deletingLastPathComponent().path)
        #expect(leftovers == ["config.yml"], "no temporary file left behind")
    }

    @Test("a hand edit is read as it is; a file that is not YAML is reported, not overwritten; a bad tunnel ID is refused")
    func handEdits() async throws {
        let root = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("tunnels-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let store = FileTunnelConfigStore(root: root)
        try await store.write(tunnelID: "t-1", configuration)
        let file = try store.file(tunnelID: "t-1")
        try """
            tunnel: t-1
            ingress:
              - hostname: acme.example.com
                service: http://evil:1
              - service: http_status:404
            """.write(to: file, atomically: true, encoding: .utf8)
        #expect(try await store.read(tunnelID: "t-1")?.ingress == [
            IngressRule(hostname: "acme.example.com", service: "http://evil:1"), IngressRule(service: "http_status:404")])
        try "ingress: [unclosed".write(to: file, atomically: true, encoding: .utf8)
        await #expect(throws: ProviderError.self) { try await store.read(tunnelID: "t-1") }
        #expect(throws: ProviderError.self) { try store.file(tunnelID: "../etc") }
    }
}
