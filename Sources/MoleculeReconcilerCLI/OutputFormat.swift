import ArgumentParser
import Foundation
import LogEscaping
import Yams

/// `-o`: how `get`, `describe`, `explain` and `status` print.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    /// Columns for people.
    case table
    /// More columns.
    case wide
    case json
    case yaml

    var isStructured: Bool { self == .json || self == .yaml }

    /// JSON (sorted keys, ISO-8601 dates) or YAML of the same value.
    func encode<T: Encodable>(_ value: T) throws -> String {
        switch self {
        case .yaml:
            let encoder = YAMLEncoder()
            encoder.options.sortKeys = true
            return try encoder.encode(value)
        case .json, .table, .wide:
            return try Tick.encode(value)
        }
    }
}

/// A table as `kubectl get` prints one: upper-case headers, columns three spaces apart, values
/// with control characters escaped (a name or an error read from a row cannot forge a line).
struct TextTable {
    var headers: [String]
    var rows: [[String]] = []

    mutating func append(_ row: [String]) {
        rows.append(row.map { LogEscape.escape($0) })
    }

    func render() -> String {
        var widths = headers.map(\.count)
        for row in rows {
            for (index, cell) in row.enumerated() where index < widths.count { widths[index] = max(widths[index], cell.count) }
        }
        return ([headers] + rows).map { row in
            row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "   ")
        }.joined(separator: "\n")
    }
}

enum Age {
    /// `kubectl`'s ages: 45s, 12m, 5h, 3d.
    static func format(seconds: Double) -> String {
        let value = Int(max(0, seconds))
        if value < 120 { return "\(value)s" }
        if value < 7200 { return "\(value / 60)m" }
        if value < 172_800 { return "\(value / 3600)h" }
        return "\(value / 86400)d"
    }
}

enum Timestamp {
    static func format(_ date: Date?) -> String {
        guard let date else { return "<none>" }
        if date == .distantFuture { return "never (until its input changes)" }
        return ISO8601DateFormatter().string(from: date)
    }
}
