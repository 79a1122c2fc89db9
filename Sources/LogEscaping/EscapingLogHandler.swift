import Logging

/// Wraps a log handler so that no value can forge a log line: every control character in the
/// message, in metadata keys and values (nested ones included) and in an attached error is
/// written escaped (`LogEscape`), so a value read from a row — `"x\nERROR forged"` — stays on
/// its own line as `x\nERROR forged`; and a value with a space, a quote or `=` is quoted
/// (`error="deadlock detected"`), so that `key=value` pairs cannot be forged either.
///
/// The wrapper keeps the handler-level metadata and the metadata provider itself and hands the
/// wrapped handler one escaped metadata dictionary per event; an event's error is handed on as
/// `error.message` and `error.type` metadata, as `StreamLogHandler` prints it.
public struct EscapingLogHandler<Wrapped: LogHandler>: LogHandler {
    private var wrapped: Wrapped

    public var metadata: Logger.Metadata
    public var metadataProvider: Logger.MetadataProvider?

    public var logLevel: Logger.Level {
        get { wrapped.logLevel }
        set { wrapped.logLevel = newValue }
    }

    public init(_ wrapped: Wrapped) {
        self.wrapped = wrapped
        self.metadata = wrapped.metadata
        self.metadataProvider = wrapped.metadataProvider
        // The wrapped handler would otherwise add its own, unescaped, copy of both.
        self.wrapped.metadata = [:]
        if wrapped.metadataProvider != nil { self.wrapped.metadataProvider = nil }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let explicit = event.metadata { merged.merge(explicit) { $1 } }
        if let error = event.error {
            merged["error.message"] = "\(error)"
            merged["error.type"] = "\(String(reflecting: type(of: error)))"
        }
        var escaped = event
        escaped.message = "\(LogEscape.escape(event.message.description))"
        escaped.metadata = merged.isEmpty ? nil : LogEscape.escape(merged).mapValues(LogEscape.quoted)
        escaped.error = nil
        wrapped.log(event: escaped)
    }
}
