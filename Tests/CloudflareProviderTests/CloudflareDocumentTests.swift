import Foundation
import Providers
import Testing

@testable import CloudflareProvider

@Suite("Cloudflare wire format and throttle window")
struct CloudflareDocumentTests {
    static func result(_ json: String) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: Data(json.utf8))
    }

    @Test(
        "a missing or null config or ingress reads as no rules; a document we cannot represent is refused, never written over",
        arguments: [
            (#"{"version": 4, "config": null}"#, "ok 4 0"),
            (#"{"version": 4}"#, "ok 4 0"),
            (#"{"version": 4, "config": {"ingress": null, "warp-routing": {"enabled": true}}}"#, "ok 4 0 warp-routing"),
            (#"{"version": 5, "config": {"ingress": [{"service": "http_status:404"}]}}"#, "ok 5 1"),
            (#"{"version": "5", "config": null}"#, "result.version is not an integer"),
            (#"{"version": 5, "config": {"ingress": {}}}"#, "result.config.ingress is not an array"),
            (
                #"{"version": 5, "config": {"ingress": [{"hostname": "a.example.com"}]}}"#,
                "result.config.ingress[0] has no service"
            ),
            (#"{"version": 5, "config": {"ingress": [{"hostname": 7, "service": "x"}]}}"#, "ingress[0].hostname is not a string"),
            (#"[]"#, "the result is not an object"),
        ])
    func parse(json: String, expected: String) throws {
        do {
            let configuration = try CloudflareDocument.configuration(from: try Self.result(json))
            let summary =
                ["ok", "\(configuration.version ?? -1)", "\(configuration.ingress.count)"]
                + configuration.otherFields.keys.sorted()
            #expect(summary.joined(separator: " ") == expected)
        } catch let malformed as CloudflareDocument.Malformed {
            #expect(malformed.reason.contains(expected), "\(malformed.reason)")
        }
    }

    @Test("the PUT body: config with the other fields as read and the rules in the API's spelling, keys sorted")
    func body() throws {
        let configuration = TunnelConfiguration(
            ingress: [
                IngressRule(hostname: "a.example.com", path: "^/api(/|$)", service: "http://10.0.0.1:8080"),
                IngressRule(
                    hostname: "b.example.com", service: "http://10.0.0.2:80", originRequest: .object(["noTLSVerify": .bool(true)])
                ),
                IngressRule(service: "http_status:404"),
            ], version: 9, otherFields: ["warp-routing": .object(["enabled": .bool(false)])])
        let text = String(decoding: try CloudflareDocument.body(configuration), as: UTF8.self)
        #expect(
            text
                == #"{"config":{"ingress":[{"hostname":"a.example.com","path":"^/api(/|$)","service":"http://10.0.0.1:8080"},{"hostname":"b.example.com","originRequest":{"noTLSVerify":true},"service":"http://10.0.0.2:80"},{"service":"http_status:404"}],"warp-routing":{"enabled":false}}}"#
        )
    }

    @Test("the throttle window: closed until its end, a longer block kept, a shorter one does not shorten it")
    func window() {
        let start = ContinuousClock.now
        var window = ThrottleWindow()
        #expect(window.remaining(at: start) == nil)
        window.block(for: .seconds(5), at: start)
        #expect(window.remaining(at: start + .seconds(2)) == .seconds(3))
        window.block(for: .seconds(1), at: start + .seconds(2))
        #expect(window.remaining(at: start + .seconds(4)) == .seconds(1))
        window.block(for: .seconds(10), at: start + .seconds(4))
        #expect(window.remaining(at: start + .seconds(13)) == .seconds(1))
        #expect(window.remaining(at: start + .seconds(14)) == nil)
    }
}
