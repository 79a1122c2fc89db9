import Foundation

/// A Swift value that can be bound to a `$n` parameter. Every parameter travels in libpq's
/// text format; the statement's casts (`$1::uuid`, `$2::bigint[]`) decide the server type.
public protocol PostgresEncodable: Sendable {
    var postgresText: String { get }
}

extension String: PostgresEncodable {
    public var postgresText: String { self }
}

extension Int: PostgresEncodable {
    public var postgresText: String { String(self) }
}

extension Int64: PostgresEncodable {
    public var postgresText: String { String(self) }
}

extension Int32: PostgresEncodable {
    public var postgresText: String { String(self) }
}

extension Double: PostgresEncodable {
    public var postgresText: String { String(self) }
}

extension Bool: PostgresEncodable {
    public var postgresText: String { self ? "t" : "f" }
}

extension UUID: PostgresEncodable {
    public var postgresText: String { uuidString.lowercased() }
}

extension Date: PostgresEncodable {
    public var postgresText: String { PostgresTimestamp.format(self) }
}

extension Data: PostgresEncodable {
    /// bytea in hex format.
    public var postgresText: String {
        "\\x" + map { String(format: "%02x", $0) }.joined()
    }
}

/// A value bound as JSON text, for `jsonb` parameters.
public struct PostgresJSON: PostgresEncodable {
    public let postgresText: String

    public init<T: Encodable>(_ value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        postgresText = String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}

extension Array: PostgresEncodable where Element: PostgresEncodable {
    /// A PostgreSQL array literal: every element quoted and escaped.
    public var postgresText: String {
        PostgresArrayLiteral.encode(map { Optional($0.postgresText) })
    }
}

extension Optional: PostgresEncodable where Wrapped: PostgresEncodable {
    /// Never used for `nil`: the connection binds a SQL NULL instead.
    public var postgresText: String { self?.postgresText ?? "" }
}

extension Array where Element == String? {
    /// An array literal that may contain NULL elements.
    public var postgresArrayText: String { PostgresArrayLiteral.encode(self) }
}
