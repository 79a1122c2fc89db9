import Foundation
import LogEscaping
import Logging
import Synchronization
import Testing

@Suite("JSON log lines")
struct JSONLogHandlerTests {
    final class Lines: Sendable {
        private let lines = Mutex<[String]>([])
        var all: [String] { lines.withLock { $0 } }
        func append(_ line: String) { lines.withLock { $0.append(line) } }
    }

    static func logger(_ lines: Lines) -> Logger {
        Logger(label: "test") { label in
            var handler = JSONLogHandler(label: label) { lines.append($0) }
            handler.logLevel = .debug
            return handler
        }
    }

    static func parse(_ line: String) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }

    @Test(
        "one object per line; every value, control characters and separators included, parses back exactly",
        arguments: EscapingLogHandlerTests.escapes.map(\.text) + ["quote \" and backslash \\", "\u{0}\u{1F}\u{7F}\u{9F}"])
    func valuesRoundTrip(value: String) throws {
        let lines = Lines()
        var logger = Self.logger(lines)
        logger[metadataKey: "controller"] = "instances"
        logger.warning(
            "reconcile failed; will retry \(value)", metadata: ["error": "\(value)", "resource.key": "k-1", "fence": "42"])
        let line = try #require(lines.all.first)
        #expect(line.hasSuffix("}\n"))
        #expect(line.dropLast().allSatisfy { $0 != "\n" && $0 != "\r" && $0 != "\u{2028}" && $0 != "\u{2029}" })
        #expect(!line.unicodeScalars.contains { $0 == "\u{202E}" || $0 == "\u{1B}" || $0.value < 0x20 && $0 != "\n" })
        let object = try Self.parse(line)
        #expect(object["message"] as? String == "reconcile failed; will retry \(value)")
        #expect(object["error"] as? String == value)
        #expect(object["controller"] as? String == "instances")
        #expect(object["resource.key"] as? String == "k-1")
        #expect(object["fence"] as? String == "42")
        #expect(object["level"] as? String == "warning")
        #expect(object["logger"] as? String == "test")
    }

    @Test("timestamp in ISO 8601 with milliseconds; nested metadata as JSON; an attached error as error; levels filter")
    func fields() throws {
        let lines = Lines()
        var logger = Self.logger(lines)
        logger.logLevel = .info
        logger.debug("not written")
        struct Failure: Error, CustomStringConvertible { var description: String { "the disk is full" } }
        logger.error(
            "staging failed", error: Failure(),
            metadata: ["workspace": ["org": "acme", "name": "seo"], "versions": ["1", "2"]])
        #expect(lines.all.count == 1)
        let object = try Self.parse(lines.all[0])
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let stamp = try #require(object["timestamp"] as? String)
        #expect(formatter.date(from: stamp).map { abs($0.timeIntervalSinceNow) < 60 } == true)
        #expect(object["error"] as? String == "the disk is full")
        #expect((object["workspace"] as? [String: String]) == ["org": "acme", "name": "seo"])
        #expect((object["versions"] as? [String]) == ["1", "2"])
    }
}
