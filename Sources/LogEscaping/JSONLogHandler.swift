import Foundation
import Logging

/// Writes each event as one JSON object on one line, for log pipelines (Loki, Elasticsearch,
/// `jq`): `timestamp` (ISO 8601, UTC, milliseconds), `level`, `message`, `logger` (the label),
/// then every metadata key as a field of its own — `controller`, `resource.key`,
/// `reconcile.id`, `fence`, `error`... — with nested metadata as JSON objects and arrays, and an
/// attached error as `error`.
///
/// Values are exact (a parser gets back what was logged); every control character, the line and
/// paragraph separators and the bidirectional controls (`LogEscape.isControl`) are written as
/// `\uXXXX`, so no value can end a line or reorder what a reader sees.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    public var logLevel: Logger.Level = .info
    private let label: String
    private let write: @Sendable (String) -> Void

    /// - Parameter write: receives each line, newline included (default: standard error).
    public init(
        label: String, metadataProvider: Logger.MetadataProvider? = nil,
        write: @escaping @Sendable (String) -> Void = JSONLogHandler.standardError
    ) {
        self.label = label
        self.metadataProvider = metadataProvider
        self.write = write
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields = metadata
        if let provided = metadataProvider?.get() { fields.merge(provided) { $1 } }
        if let explicit = event.metadata { fields.merge(explicit) { $1 } }
        if let error = event.error { fields["error"] = "\(error)" }
        var line = "{"
        line += "\"timestamp\":" + JSONText.string(Self.timestamp(Date()))
        line += ",\"level\":" + JSONText.string(event.level.rawValue)
        line += ",\"message\":" + JSONText.string(event.message.description)
        line += ",\"logger\":" + JSONText.string(label)
        for key in fields.keys.sorted() where !["timestamp", "level", "message", "logger"].contains(key) {
            line += "," + JSONText.string(key) + ":" + JSONText.value(fields[key]!)
        }
        write(line + "}\n")
    }

    private static func timestamp(_ instant: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: instant)
    }

    /// One `write(2)` per line, so that lines from concurrent tasks never interleave.
    public static let standardError: @Sendable (String) -> Void = { line in
        Array(line.utf8).withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = Foundation.write(2, buffer.baseAddress! + offset, buffer.count - offset)
                if written <= 0 { return }
                offset += written
            }
        }
    }
}

/// JSON text for log values, written by hand so that the escaping rules are ours.
enum JSONText {
    static func string(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where LogEscape.isControl(scalar):
                out += String(format: "\\u%04X", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    static func value(_ value: Logger.MetadataValue) -> String {
        switch value {
        case .string(let text): string(text)
        case .stringConvertible(let convertible): string(convertible.description)
        case .array(let values): "[" + values.map(self.value).joined(separator: ",") + "]"
        case .dictionary(let metadata):
            "{" + metadata.keys.sorted().map { string($0) + ":" + self.value(metadata[$0]!) }.joined(separator: ",") + "}"
        }
    }
}
