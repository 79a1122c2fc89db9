/// What one role may do with one relation, parsed from a `PrivilegePolicy` clause list.
struct Expectation {
    enum Outcome: Equatable, CustomStringConvertible {
        case allowed
        /// Held, and refused by the guard trigger with a message naming the owner.
        case guarded
        case denied

        var description: String {
            switch self {
            case .allowed: "allowed"
            case .guarded: "refused by the guard"
            case .denied: "denied"
            }
        }
    }

    enum Operation: String, CaseIterable {
        case select, insert, update, delete, usage
    }

    private var allowed: [Operation: Set<String>] = [:]
    private var guarded: [Operation: Set<String>] = [:]

    init(_ clauses: String?) {
        for clause in (clauses ?? "").split(separator: ";") {
            let words = clause.split(separator: " ").map(String.init)
            guard let head = words.first else { continue }
            let columns = Set(words.dropFirst().isEmpty ? ["*"] : Array(words.dropFirst()))
            let isGuard = head.hasPrefix("g") && head.count == 2
            let operation: Operation =
                switch isGuard ? String(head.dropFirst()) : head {
                case "s": .select
                case "i": .insert
                case "u": .update
                case "d": .delete
                case "usage": .usage
                default: preconditionFailure("unknown clause \(clause)")
                }
            if isGuard {
                guarded[operation, default: []].formUnion(columns)
            } else {
                allowed[operation, default: []].formUnion(columns)
            }
        }
    }

    /// The outcome for `column` (nil: the whole relation, for delete and usage).
    func outcome(_ operation: Operation, column: String? = nil) -> Outcome {
        let key = column ?? "*"
        if let set = allowed[operation], set.contains("*") || set.contains(key) { return .allowed }
        if let set = guarded[operation], set.contains("*") || set.contains(key) { return .guarded }
        return .denied
    }
}
