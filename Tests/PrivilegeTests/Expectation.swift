/// What one role may do with one relation, parsed from a `PrivilegePolicy` clause list.
struct Expectation {
    enum Outcome: Equatable, CustomStringConvertible {
        case allowed
        /// Refused: a write by a guard whose message names the table or column and its owner.
        case denied

        var description: String {
            switch self {
            case .allowed: "allowed"
            case .denied: "denied"
            }
        }
    }

    enum Operation: String, CaseIterable {
        case select, insert, update, delete, truncate, usage
    }

    private var allowed: [Operation: Set<String>] = [:]

    init(_ clauses: String?) {
        for clause in (clauses ?? "").split(separator: ";") {
            let words = clause.split(separator: " ").map(String.init)
            guard let head = words.first else { continue }
            let columns = Set(words.dropFirst().isEmpty ? ["*"] : Array(words.dropFirst()))
            let operation: Operation =
                switch head {
                case "s": .select
                case "i": .insert
                case "u": .update
                case "d": .delete
                case "usage": .usage
                default: preconditionFailure("unknown clause \(clause)")
                }
            allowed[operation, default: []].formUnion(columns)
        }
    }

    /// The outcome for `column` (nil: the whole relation, for delete, truncate and usage).
    func outcome(_ operation: Operation, column: String? = nil) -> Outcome {
        let key = column ?? "*"
        if let set = allowed[operation], set.contains("*") || set.contains(key) { return .allowed }
        return .denied
    }

    /// Whether the role may do `operation` on some column (insert: it passes the table's guard).
    func allowsAny(_ operation: Operation) -> Bool { !(allowed[operation] ?? []).isEmpty }

    /// Whether the clause for `operation` lists columns rather than `*`.
    func listsColumns(_ operation: Operation) -> Bool {
        guard let set = allowed[operation] else { return false }
        return !set.contains("*")
    }
}
