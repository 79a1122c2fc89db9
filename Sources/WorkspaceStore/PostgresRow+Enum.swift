import Postgres

extension PostgresRow {
    /// A column holding one of an enum's raw values; any other value is a decoding error that
    /// names the column (the schema's CHECK constraints should make it impossible).
    func requireEnum<T: RawRepresentable>(_ type: T.Type, _ column: String) throws -> T where T.RawValue == String {
        let text = try require(String.self, column)
        guard let value = T(rawValue: text) else {
            throw PostgresError(code: .decoding, message: "column \(column): unexpected value '\(text.prefix(64))'")
        }
        return value
    }
}
