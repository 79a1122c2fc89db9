import LogEscaping
import Logging
import Synchronization
import Testing

@Suite("log escaping")
struct EscapingLogHandlerTests {
    /// What a `StreamLogHandler` writes, kept in memory.
    final class Capture: TextOutputStream, Sendable {
        private let text = Mutex("")
        var written: String { text.withLock { $0 } }
        func write(_ string: String) { text.withLock { $0 += string } }
    }

    static let escapes: [(text: String, shown: String)] = [
        ("plain text", "plain text"),
        ("é 名前 🙂", "é 名前 🙂"),
        ("a\nb", #"a\nb"#),
        ("a\r\nb", #"a\r\nb"#),
        ("tab\there", #"tab\there"#),
        ("\u{1B}[31mred\u{1B}[0m", #"\u{1B}[31mred\u{1B}[0m"#),
        ("nul\u{0}", #"nul\u{0}"#),
        ("del\u{7F}", #"del\u{7F}"#),
        ("next line\u{85}", #"next line\u{85}"#),
        ("line separator\u{2028}", #"line separator\u{2028}"#),
        ("paragraph\u{2029}", #"paragraph\u{2029}"#),
        ("right-to-left \u{202E}override", #"right-to-left \u{202E}override"#),
        ("isolate \u{2066}x\u{2069}", #"isolate \u{2066}x\u{2069}"#),
        (#"a backslash \n stays"#, #"a backslash \n stays"#),
    ]

    @Test("control characters are shown escaped, everything else as it is", arguments: escapes)
    func escape(_ text: String, _ shown: String) {
        #expect(LogEscape.escape(text) == shown)
    }

    @Test(
        "a value with a newline and forged text stays on its line: message, metadata (nested too), handler metadata, provider and error"
    )
    func oneEventOneLine() {
        let capture = Capture()
        let provider = Logger.MetadataProvider { ["provided": "p\nINFO forged by a provider"] }
        var logger = Logger(label: "test") { label in
            EscapingLogHandler(StreamLogHandler(label: label, stream: capture, metadataProvider: provider))
        }
        logger.logLevel = .trace
        logger[metadataKey: "resource.key"] = "k\r\nWARN forged by handler metadata"
        struct Failure: Error, CustomStringConvertible {
            var description: String { "boom\nERROR forged by an error" }
        }
        logger.info(
            "row says \("x\nERROR reconciler: forged")",
            metadata: [
                "workspace.name": "seo\n2026-01-01T00:00:00+0000 error test: forged",
                "nested": ["inner": "a\nb", "list": ["c\u{1B}[2J"]],
                "key\nforged": "v",
            ])
        logger.error("failed", error: Failure())

        let lines = capture.written.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 3 && lines[2].isEmpty, "\(capture.written)")
        let first = String(lines[0])
        #expect(first.contains(#"row says x\nERROR reconciler: forged"#))
        #expect(first.contains(#"seo\n2026-01-01T00:00:00+0000 error test: forged"#))
        #expect(first.contains(#"k\r\nWARN forged by handler metadata"#))
        #expect(first.contains(#"p\nINFO forged by a provider"#))
        #expect(first.contains(#"key\nforged=v"#))
        #expect(first.contains(#"\u{1B}[2J"#))
        #expect(!capture.written.contains("\u{1B}") && !capture.written.contains("\r"))
        #expect(String(lines[1]).contains(#"error.message="boom\nERROR forged by an error""#))
    }

    @Test("the log level is the wrapped handler's, and handler metadata is a value")
    func levelAndMetadata() {
        var handler = EscapingLogHandler(StreamLogHandler(label: "t", stream: Capture(), metadataProvider: nil))
        handler.logLevel = .debug
        handler[metadataKey: "a"] = "1"
        let copy = handler
        handler[metadataKey: "a"] = "2"
        #expect(handler.logLevel == .debug)
        #expect(copy[metadataKey: "a"] == "1" && handler[metadataKey: "a"] == "2")
    }
}
