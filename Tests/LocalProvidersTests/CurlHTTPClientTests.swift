import CurlHTTP
import Foundation
import Testing

@Suite("curl HTTP client")
struct CurlHTTPClientTests {
    @Test("response headers are the final response's, found whatever the case of their name")
    func headers() async throws {
        let server = try ScriptedHTTPServer([
            .raw(
                "HTTP/1.1 100 Continue\r\nX-Interim: yes\r\n\r\n"
                    + "HTTP/1.1 200 OK\r\nX-Thing: a\r\nx-thing:  b \r\nX-Folded: one\r\n  two\r\n"
                    + "Content-Length: 2\r\n\r\nok")
        ])
        defer { server.stop() }
        let response = try await CurlHTTPClient().send(.init(url: "http://127.0.0.1:\(server.port)/"))
        #expect(response.status == 200 && response.text == "ok")
        #expect(response.headers["X-THING"] == "a")
        #expect(response.headers.values(for: "x-Thing") == ["a", "b"])
        #expect(response.headers["content-length"] == "2")
        #expect(response.headers["x-folded"] == "one two", "an obsolete folded line continues the value")
        #expect(response.headers["X-Interim"] == nil, "an interim response's fields are not the response's")
    }

    static let now = Date(timeIntervalSince1970: 1_699_395_200)  // Tue, 07 Nov 2023 22:13:20 GMT

    @Test(
        "Retry-After: seconds, or any form of HTTP-date measured from now (a past one is zero); nothing else",
        arguments: [
            ("120", Duration?.some(.seconds(120))), (" 5 ", .seconds(5)),
            ("Tue, 07 Nov 2023 22:13:50 GMT", .seconds(30)), ("Tuesday, 07-Nov-23 22:13:50 GMT", .seconds(30)),
            ("Tue Nov  7 22:13:50 2023", .seconds(30)), ("Tue, 07 Nov 2023 22:00:00 GMT", .zero),
            ("-1", nil), ("1.5", nil), ("soon", nil), ("", nil),
        ])
    func retryAfter(value: String, expected: Duration?) {
        #expect(HTTPHeaderFields([.init(name: "retry-after", value: value)]).retryAfter(now: Self.now) == expected)
    }
}
