import Foundation
import Logging
import Synchronization

/// Counts the warnings and errors the hosts log, by message (messages are constant sentences;
/// the data is in metadata), and prints the first of each to standard error, so that a failing
/// write-back is counted in the figures instead of scrolling by ten thousand times.
final class LogTally: Sendable {
    private let counts = Mutex<[String: Int]>([:])

    var snapshot: [String: Int] { counts.withLock { $0 } }

    /// A logger whose warnings and errors are counted here.
    func logger(label: String) -> Logger {
        Logger(label: label) { _ in Handler(tally: self) }
    }

    fileprivate func record(_ level: Logger.Level, _ message: String, metadata: String) {
        let first = counts.withLock { counts in
            counts[message, default: 0] += 1
            return counts[message] == 1
        }
        if first {
            FileHandle.standardError.write(
                Data("(first of its kind, counted from now on) \(level): \(message) \(metadata)\n".utf8))
        }
    }

    /// The messages logged since `earlier` (a `snapshot`), with their counts.
    func since(_ earlier: [String: Int]) -> [String: Int] {
        snapshot.reduce(into: [:]) { result, entry in
            let delta = entry.value - (earlier[entry.key] ?? 0)
            if delta > 0 { result[entry.key] = delta }
        }
    }

    private struct Handler: LogHandler {
        let tally: LogTally
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .warning

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { $1 }
            let text = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            tally.record(event.level, "\(event.message)", metadata: text)
        }
    }
}
