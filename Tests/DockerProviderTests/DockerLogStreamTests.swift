import Foundation
import Providers
import Testing

@testable import DockerProvider

/// The provider's pure parts: the engine's log stream format, state words, container names.
@Suite("Docker provider: log stream, states and names")
struct DockerLogStreamTests {
    static func frame(_ stream: UInt8, _ text: String) -> Data {
        let payload = Data(text.utf8)
        let size = UInt32(payload.count)
        return Data([stream, 0, 0, 0, UInt8(size >> 24), UInt8(size >> 16 & 0xff), UInt8(size >> 8 & 0xff), UInt8(size & 0xff)])
            + payload
    }

    @Test("stdout and stderr frames are joined in order; a truncated last frame keeps what arrived")
    func demultiplex() {
        let data = Self.frame(1, "listening\n") + Self.frame(2, "Error: no secret named x\n") + Self.frame(1, "cut off here")
        #expect(DockerLogStream.demultiplex(data) == "listening\nError: no secret named x\ncut off here")
        #expect(DockerLogStream.demultiplex(data.dropLast(4)) == "listening\nError: no secret named x\ncut off ")
        #expect(DockerLogStream.demultiplex(Data()) == "")
    }

    @Test("the summary is one line: control characters escaped, blank lines dropped, the end kept")
    func summary() {
        #expect(DockerLogStream.summary("a\n\n\u{1b}[31mred\nb\n") == #"a | \u{1b}[31mred | b"#)
        let long = DockerLogStream.summary(String(repeating: "x", count: 900) + "\nlast", limit: 10)
        #expect(long == "…xxx | last")
    }

    @Test(
        "engine states map onto the provider's",
        arguments: [
            ("running", InstanceState.running), ("created", .terminated), ("restarting", .pending), ("paused", .stopped),
            ("removing", .shuttingDown), ("exited", .terminated), ("dead", .terminated),
        ])
    func states(word: String, state: InstanceState) {
        #expect(DockerInstanceProvider.state(word) == state)
    }

    @Test("a container name is the idempotency token, prefixed; a token that cannot name a container is refused")
    func names() throws {
        #expect(try DockerInstanceProvider.containerName("ws-1-g2") == "molecule-ws-ws-1-g2")
        #expect(throws: ProviderError.self) { try DockerInstanceProvider.containerName("a/b-g1") }
    }
}
