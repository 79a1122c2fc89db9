import ArgumentParser
import Foundation
import LogEscaping
import Logging

/// How log lines are written: `text` for people (swift-log's stream format, control characters
/// escaped) or `json` for log pipelines (one object per line, `JSONLogHandler`).
enum LogFormat: String, CaseIterable, ExpressibleByArgument {
    case text
    case json

    /// The environment variable that sets the format when `--log-format` is not given.
    static let environmentVariable = "MOLECULE_LOG_FORMAT"
}

/// `--log-format`, in a group of its own.
struct LogFormatOptions: ParsableArguments {
    @Option(
        name: .long,
        help: "text or json: one JSON object per line (default: $\(LogFormat.environmentVariable), then text).")
    var logFormat: LogFormat?

    func validate() throws {
        _ = try format()
    }

    /// The option, then the environment variable, then `text`.
    func format(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> LogFormat {
        if let logFormat { return logFormat }
        guard let value = environment[LogFormat.environmentVariable], !value.isEmpty else { return .text }
        guard let format = LogFormat(rawValue: value) else {
            throw ValidationError("\(LogFormat.environmentVariable) must be 'text' or 'json', got '\(LogEscape.escape(value))'")
        }
        return format
    }

    /// Logs go to standard error, one event per line; whichever the format, no value read from a
    /// row can forge a line (text escapes control characters, JSON encodes them).
    func bootstrap(level: Logger.Level) {
        let format = (try? format()) ?? .text
        LoggingSystem.bootstrap { label in
            switch format {
            case .text:
                var handler = EscapingLogHandler(StreamLogHandler.standardError(label: label))
                handler.logLevel = level
                return handler
            case .json:
                var handler = JSONLogHandler(label: label)
                handler.logLevel = level
                return handler
            }
        }
    }
}
