import Foundation

/// A Swift type that can be read from a column's text representation.
public protocol PostgresDecodable: Sendable {
    init(postgresText: String) throws
}

private func mismatch(_ type: String) -> PostgresError {
    PostgresError(code: .decoding, message: "column value is not a valid \(type)")
}

extension String: PostgresDecodable {
    public init(postgresText: String) { self = postgresText }
}

extension Int: PostgresDecodable {
    public init(postgresText: String) throws {
        guard let value = Int(postgresText) else { throw mismatch("integer") }
        self = value
    }
}

extension Int64: PostgresDecodable {
    public init(postgresText: String) throws {
        guard let value = Int64(postgresText) else { throw mismatch("bigint") }
        self = value
    }
}

extension Int32: PostgresDecodable {
    public init(postgresText: String) throws {
        guard let value = Int32(postgresText) else { throw mismatch("integer") }
        self = value
    }
}

extension Double: PostgresDecodable {
    public init(postgresText: String) throws {
        guard let value = Double(postgresText) else { throw mismatch("double precision") }
        self = value
    }
}

extension Bool: PostgresDecodable {
    public init(postgresText: String) throws {
        switch postgresText {
        case "t", "true": self = true
        case "f", "false": self = false
        default: throw mismatch("boolean")
        }
    }
}

extension UUID: PostgresDecodable {
    public init(postgresText: String) throws {
        guard let value = UUID(uuidString: postgresText) else { throw mismatch("uuid") }
        self = value
    }
}

extension Date: PostgresDecodable {
    public init(postgresText: String) throws {
        self = try PostgresTimestamp.parse(postgresText)
    }
}

extension Data: PostgresDecodable {
    /// bytea in hex output format (`\x…`), the server default.
    public init(postgresText: String) throws {
        let hex = Array(postgresText.utf8)
        guard hex.count >= 2, hex[0] == UInt8(ascii: "\\"), hex[1] == UInt8(ascii: "x"),
            hex.count % 2 == 0
        else { throw mismatch("bytea") }
        func nibble(_ c: UInt8) throws -> UInt8 {
            switch c {
            case 48...57: return c - 48
            case 97...102: return c - 87
            case 65...70: return c - 55
            default: throw mismatch("bytea")
            }
        }
        var bytes = [UInt8]()
        bytes.reserveCapacity(hex.count / 2 - 1)
        var index = 2
        while index < hex.count {
            bytes.append(try nibble(hex[index]) << 4 | nibble(hex[index + 1]))
            index += 2
        }
        self = Data(bytes)
    }
}

extension Array: PostgresDecodable where Element: PostgresDecodable {
    /// One-dimensional arrays without NULL elements.
    public init(postgresText: String) throws {
        self = try PostgresArrayLiteral.parse(postgresText).map { element in
            guard let element else { throw mismatch("array without NULL elements") }
            return try Element(postgresText: element)
        }
    }
}
