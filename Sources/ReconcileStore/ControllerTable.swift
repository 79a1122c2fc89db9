/// A controller's desired-vs-observed table. Its name is an identifier checked here once, so
/// it can be spliced into statements as `"name"`; values always travel as `$n` parameters.
///
/// Required columns (see `molecule_register_controller` in the schema): `key uuid PRIMARY KEY`,
/// `desired_generation`, `observed_generation`, `last_error`, `last_error_at`, `attempts`,
/// `next_attempt_at`.
public struct ControllerTable: Sendable, Hashable, CustomStringConvertible {
    public let name: String

    public init(_ name: String) {
        precondition(
            !name.isEmpty && name.count <= 63 && name.allSatisfy { ($0.isASCII && $0.isLowercase) || $0.isNumber || $0 == "_" }
                && !(name.first!.isNumber), "controller table names are lowercase identifiers")
        self.name = name
    }

    /// The name quoted as an identifier.
    var quoted: String { "\"\(name)\"" }

    public var description: String { name }
}
