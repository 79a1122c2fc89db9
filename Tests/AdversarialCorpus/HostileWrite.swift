import Postgres

/// One malformed or hostile write: `sql` binds `value` as `$1` (nothing else), and must be
/// refused with a message naming `column` as `<table>.<column>`.
public struct HostileWrite: Sendable {
    public var column: String
    public var what: String
    public var sql: String
    public var value: String?

    public init(_ column: String, _ what: String, _ sql: String, _ value: String?) {
        self.column = column
        self.what = what
        self.sql = sql
        self.value = value
    }

    /// How a test names the write.
    public var testDescription: String { "\(column): \(what)" }

    /// Attempts the write on `pool`. Returns what is wrong with the way it was treated — empty
    /// when it was refused as it must be: with a classified error whose one-line message, under
    /// 400 characters and free of control characters, names `column`. An error that is not the
    /// server's is rethrown.
    public func attempt(on pool: PostgresPool) async throws -> [String] {
        do {
            try await pool.query(sql, [value])
            return ["accepted"]
        } catch let error as PostgresError {
            var problems: [String] = []
            if !error.message.contains("\(column): ") { problems.append("the message does not name \(column): \(error.message)") }
            if error.code == .other { problems.append("the error is not classified: \(error.debugDescription)") }
            if error.message.unicodeScalars.contains(where: {
                $0.value < 0x20 || (0x7F...0x9F).contains($0.value) || $0 == "\u{202E}"
            }) {
                problems.append("a control character reached the message: \(error.message.debugDescription)")
            }
            if error.message.count >= 400 { problems.append("the message echoes too much: \(error.message.count) characters") }
            return problems
        }
    }
}
