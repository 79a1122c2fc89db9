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
        #expect(
            String(decoding: first, as: UTF8.self).contains(
                """
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
        #expect(
            try await store.read(tunnelID: "t-1")?.ingress == [
                IngressRule(hostname: "acme.example.com", service: "http://evil:1"), IngressRule(service: "http_status:404"),
            ])
        try "ingress: [unclosed".write(to: file, atomically: true, encoding: .utf8)
        await #expect(throws: ProviderError.self) { try await store.read(tunnelID: "t-1") }
        #expect(throws: ProviderError.self) { try store.file(tunnelID: "../etc") }
    }

    @Test("any value round-trips: quotes, backslashes, controls, DEL, line and paragraph separators")
    func awkwardValues() async throws {
        let root = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("tunnels-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let store = FileTunnelConfigStore(root: root)
        let awkward = TunnelConfiguration(ingress: [
            IngressRule(
                hostname: "a.example.com", path: "^/\"q\"\\x\t\n\r\u{1}\u{7F}\u{85}\u{2028}\u{2029}\u{FFFF}é🙂$",
                service: "http://10.0.0.1:1"),
            IngressRule(service: "http_status:404"),
        ])
        try await store.write(tunnelID: "t-1", awkward)
        #expect(try await store.read(tunnelID: "t-1") == awkward)
    }

    @Test("only a missing file is no configuration: an unreadable or non-UTF-8 file is an error naming the tunnel")
    func unreadable() async throws {
        let root = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("tunnels-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let store = FileTunnelConfigStore(root: root)
        let file = try store.file(tunnelID: "t-1")
        try FileManager.default.createDirectory(at: file, withIntermediateDirectories: true)
        let unreadable = await #expect(throws: ProviderError.self) { try await store.read(tunnelID: "t-1") }
        #expect(unreadable?.kind == .transient)
        #expect(unreadable?.description.contains("read: cannot read the configuration of tunnel t-1") == true)
        #expect(unreadable?.description.contains("Is a directory") == true)

        try FileManager.default.removeItem(at: file)
        try (Data("# caf".utf8) + [0xE9]).write(to: file)
        let notText = await #expect(throws: ProviderError.self) { try await store.read(tunnelID: "t-1") }
        #expect(notText?.kind == .invalid)
        #expect(notText?.description.contains("tunnel t-1") == true && notText?.description.contains("not UTF-8") == true)
    }
}
