import Foundation

/// The rows of one statement, copied out of libpq so no C pointer outlives the call.
public struct PostgresResult: Sendable {
    public let columns: [String]
    public let rows: [PostgresRow]
    /// Rows inserted, updated or deleted (libpq's `PQcmdTuples`), 0 for other statements.
    public let affectedRows: Int
}

/// One result row; values are text, decoded on demand into the requested type.
public struct PostgresRow: Sendable {
    let columnIndex: [String: Int]
    let values: [String?]

    /// The value of `column`, or nil for SQL NULL.
    public func decode<T: PostgresDecodable>(_ type: T.Type = T.self, _ column: String) throws -> T? {
        guard let index = columnIndex[column] else {
            throw PostgresError(code: .decoding, message: "no column named \(column) in the result")
        }
        return try decode(type, at: index)
    }

    public func decode<T: PostgresDecodable>(_ type: T.Type = T.self, at index: Int) throws -> T? {
        guard let text = values[index] else { return nil }
        do {
            return try T(postgresText: text)
        } catch var error as PostgresError {
            error.column = columnIndex.first { $0.value == index }?.key
            throw error
        }
    }

    /// The value of a NOT NULL column.
    public func require<T: PostgresDecodable>(_ type: T.Type = T.self, _ column: String) throws -> T {
        guard let value = try decode(type, column) else {
            throw PostgresError(code: .decoding, message: "column \(column) is NULL", column: column)
        }
        return value
    }

    /// A `json`/`jsonb` column decoded with `JSONDecoder`.
    public func decodeJSON<T: Decodable>(_ type: T.Type, _ column: String) throws -> T? {
        guard let text = try decode(String.self, column) else { return nil }
        do {
            return try JSONDecoder().decode(type, from: Data(text.utf8))
        } catch {
            throw PostgresError(
                code: .decoding, message: "column \(column) is not the expected JSON shape",
                column: column)
        }
    }
}
