import LogEscaping
import Logging
import Testing

@Suite("text log values quoted")
struct TextQuotingTests {
    @Test("a value with a space, a quote or = is quoted (inner quotes escaped), so no value can forge a key=value pair")
    func quoting() {
        let capture = EscapingLogHandlerTests.Capture()
        let logger = Logger(label: "test") { label in
            EscapingLogHandler(StreamLogHandler(label: label, stream: capture, metadataProvider: nil))
        }
        logger.warning(
            "reconcile failed; will retry",
            metadata: [
                "error": "deadlock detected", "plain": "k1", "forged": "x controller=fake",
                "quote": #"say "hi""#, "empty": "", "line": "a\nb c",
            ])
        let line = capture.written
        #expect(line.contains(#"error="deadlock detected""#))
        #expect(line.contains("plain=k1 "))
        #expect(line.contains(#"forged="x controller=fake""#))
        #expect(!line.contains("forged=x "))
        #expect(line.contains(#"quote="say \"hi\"""#))
        #expect(line.contains(#"empty="""#))
        #expect(line.contains(#"line="a\nb c""#))
    }
}
