import Foundation
import Providers
import Testing

@testable import IngressModel

@Suite("ingress rendering")
struct IngressRendererTests {
    let services = ["platform": "http://10.0.0.5:8080", "app": "http://10.0.0.5:3000", "docs": "https://docs.internal:8443"]

    @Test("patterns become anchored regular expressions")
    func anchoring() throws {
        #expect(try PathPattern("/api/*").regex == "^/api(/|$)")
        #expect(try PathPattern("/healthz").regex == "^/healthz$")
        #expect(try PathPattern("/v1.2/x/*").regex == #"^/v1\.2/x(/|$)"#)
        #expect(try PathPattern("/*").regex == "^/")
        #expect(try PathPattern("/").regex == "^/$")
    }

    @Test("malformed patterns are refused, naming the pattern and the reason")
    func malformed() {
        for (pattern, reason) in [
            ("api/*", "must start with '/'"), ("/a//b", "empty segment"), ("/a/*/b", "'*' only as a final '/*'"),
            ("/a(b)", "may only contain"), ("/../etc", "'..' segment"),
        ] {
            #expect {
                try PathPattern(pattern)
            } throws: { error in
                "\(error)".contains("platform_paths.pattern '\(pattern)'") && "\(error)".contains(reason)
            }
        }
    }

    @Test("most specific first, exact before prefix, catch-all of the hostname to app last; whatever the input order")
    func ordering() throws {
        let paths = [
            ("/*", "platform"), ("/api/*", "platform"), ("/api/v2/*", "platform"), ("/api", "docs"), ("/docs/*", "docs"),
        ]
        let rules = try IngressRenderer.render(
            hostname: "acme.example.com", services: services,
            paths: paths.map { (pattern: $0.0, service: $0.1) }
        ).rules
        #expect(rules.map { $0.path ?? "-" } == ["^/api/v2(/|$)", "^/api$", "^/api(/|$)", "^/docs(/|$)", "^/", "-"])
        #expect(
            rules.map(\.service) == [
                "http://10.0.0.5:8080", "https://docs.internal:8443", "http://10.0.0.5:8080",
                "https://docs.internal:8443", "http://10.0.0.5:8080", "http://10.0.0.5:3000",
            ])
        #expect(rules.allSatisfy { $0.hostname == "acme.example.com" })
        let shuffled = try IngressRenderer.render(
            hostname: "acme.example.com", services: services,
            paths: paths.reversed().map { (pattern: $0.0, service: $0.1) }
        ).rules
        #expect(shuffled == rules)
        #expect(try IngressRenderer.hash(shuffled) == IngressRenderer.hash(rules))
        #expect(try IngressRenderer.hash(Array(rules.dropFirst())) != IngressRenderer.hash(rules))
    }

    @Test("a value JSON cannot encode is an error, never the hash of empty data")
    func encodingFailure() {
        #expect(throws: EncodingError.self) { try IngressRenderer.sha256(canonicalJSON: [Double.nan]) }
    }

    @Test("a path the tenant cannot serve is skipped with the reason; every other path still reaches it")
    func skippedPaths() throws {
        let rendering = try IngressRenderer.render(
            hostname: "a.example.com", services: ["app": "http://x:1", "platform": "http://p:1"],
            paths: [
                (pattern: "/api/*", service: "platform"), (pattern: "/files/(.*)", service: "platform"),
                (pattern: "/billing/*", service: "billing"),
            ])
        #expect(rendering.rules.map { $0.path ?? "-" } == ["^/api(/|$)", "-"])
        #expect(rendering.skipped.map(\.pattern) == ["/billing/*", "/files/(.*)"])
        #expect(
            rendering.skipped[0].reason
                == "tenants.services: no URL for service 'billing' (needed by platform_paths.pattern '/billing/*')")
        #expect(rendering.skipped[1].reason.contains("platform_paths.pattern '/files/(.*)'"))
    }

    @Test("a missing or malformed service URL of the tenant's own catch-all names the tenant's field")
    func serviceURLs() {
        #expect {
            try IngressRenderer.render(hostname: "a.example.com", services: ["platform": "http://x:1"], paths: [])
        } throws: { "\($0)".contains("no URL for service 'app' (needed by the catch-all rule)") }
        #expect {
            try IngressRenderer.render(hostname: "a.example.com", services: ["app": "localhost:3000"], paths: [])
        } throws: { "\($0)".contains("tenants.services.app: 'localhost:3000' is not a service cloudflared accepts") }
    }

    @Test("merging keeps other hostnames' rules, replaces ours, and ends with the catch-all")
    func merge() {
        let current = TunnelConfiguration(
            ingress: [
                IngressRule(hostname: "zeta.example.com", service: "http://z:1"),
                IngressRule(hostname: "acme.example.com", path: "^/old$", service: "http://old:1"),
                IngressRule(hostname: "acme.example.com", service: "http://old:2"),
                IngressRule(service: "http_status:503"),
            ], version: 7)
        let ours = [IngressRule(hostname: "acme.example.com", service: "http://new:3000")]
        let merged = IngressRenderer.merge(current, hostname: "acme.example.com", rules: ours)
        #expect(
            merged.ingress == ours + [IngressRule(hostname: "zeta.example.com", service: "http://z:1"), IngressRenderer.catchAll])
        #expect(
            IngressRenderer.merge(nil, hostname: "acme.example.com", rules: ours).ingress == ours + [IngressRenderer.catchAll])
    }

    @Test("merging keeps what is not ours: the document's other fields, other rules' origin settings, the version read")
    func mergeKeepsForeignFields() {
        let origin = JSONValue.object(["connectTimeout": .integer(10), "noTLSVerify": .bool(false)])
        let current = TunnelConfiguration(
            ingress: [
                IngressRule(hostname: "zeta.example.com", service: "http://z:1", originRequest: origin),
                IngressRule(hostname: "acme.example.com", service: "http://old:2", originRequest: origin),
                IngressRenderer.catchAll,
            ], version: 7, otherFields: ["warp-routing": .object(["enabled": .bool(false)])])
        let ours = [IngressRule(hostname: "acme.example.com", service: "http://new:3000")]
        let merged = IngressRenderer.merge(current, hostname: "acme.example.com", rules: ours)
        #expect(merged.ingress[1] == IngressRule(hostname: "zeta.example.com", service: "http://z:1", originRequest: origin))
        #expect(merged.ingress[0].originRequest == nil, "our own rules are exactly as rendered")
        #expect(merged.version == 7 && merged.otherFields == current.otherFields)
        // Rendered rules hash as before the field existed: an absent origin is not encoded.
        let encoded = String(decoding: (try? JSONEncoder().encode(ours[0])) ?? Data(), as: UTF8.self)
        #expect(!encoded.isEmpty && !encoded.contains("originRequest"))
    }
}
