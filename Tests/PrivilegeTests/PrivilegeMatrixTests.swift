import Foundation
import Postgres
import PostgresTestSupport
import Testing

/// Every relation, column and function of the schema × every role × select, insert, update,
/// delete, execute: what the database does must be what `PrivilegePolicy` declares.
@Suite("privilege matrix")
struct PrivilegeMatrixTests {
    struct Column {
        let name: String
        let type: String
    }

    struct Relation {
        let name: String
        /// 'r' table, 'v' view, 'S' sequence (pg_class.relkind).
        let kind: String
        let columns: [Column]
    }

    static func catalog(_ pool: PostgresPool) async throws -> [Relation] {
        let rows = try await pool.query(
            """
            SELECT c.relname::text AS relation, c.relkind::text AS kind, a.attname::text AS col,
                   format_type(a.atttypid, a.atttypmod) AS type
              FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
             WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
             ORDER BY c.relname, a.attnum
            """
        ).rows
        var relations: [Relation] = []
        for row in rows {
            let name = try row.require(String.self, "relation")
            let column = Column(name: try row.require(String.self, "col"), type: try row.require(String.self, "type"))
            if relations.last?.name == name {
                let last = relations.removeLast()
                relations.append(Relation(name: name, kind: last.kind, columns: last.columns + [column]))
            } else {
                relations.append(Relation(name: name, kind: try row.require(String.self, "kind"), columns: [column]))
            }
        }
        return relations
    }

    @Test("the catalog's relations and columns are exactly those the policy declares")
    func catalogMatchesPolicy() async throws {
        let database = try await RoleDatabase.create()
        let relations = try await Self.catalog(database.owner)
        #expect(Set(relations.map(\.name)) == Set(PrivilegePolicy.relations.keys), "relations not in the policy, or gone")
        for relation in relations {
            guard let declared = PrivilegePolicy.relations[relation.name] else { continue }
            #expect(Set(relation.columns.map(\.name)) == Set(declared.columns), "columns of \(relation.name)")
        }
        let functions = try await database.owner.query(
            "SELECT oid::regprocedure::text AS f FROM pg_proc WHERE pronamespace = current_schema()::regnamespace"
        ).rows.map { try $0.require(String.self, "f") }
        #expect(Set(functions) == Set(PrivilegePolicy.functions.keys), "functions not in the policy, or gone")
    }

    @Test("every role × relation × column × operation does what the policy says", arguments: DatabaseRole.allCases)
    func relationMatrix(_ role: DatabaseRole) async throws {
        let database = try await RoleDatabase.create()
        let login = database.login(role)
        let owner = try await database.owner.query("SELECT current_user::text AS owner").rows[0].require(String.self, "owner")
        let pool = database.pool(as: role)
        defer { Task { await pool.close() } }
        var mismatches: [String] = []
        var checked = 0
        var refusedWrites = 0
        for relation in try await Self.catalog(database.owner) {
            for (operation, column, sql) in Self.statements(relation) {
                let expected = Self.expectation(relation, role).outcome(operation, column: column)
                let what = "\(role) \(operation) \(relation.name)\(column.map { ".\($0)" } ?? "")"
                checked += 1
                let refusal = Refusal(
                    relation: relation, operation: operation, column: column, role: role, login: login, owner: owner)
                if expected == .denied, [.insert, .update, .delete, .truncate].contains(operation) { refusedWrites += 1 }
                if let problem = await Self.check(sql, on: pool, expected: expected, refusal: refusal) {
                    mismatches.append("\(what): expected \(expected == .allowed ? "allowed" : refusal.message), \(problem)")
                }
            }
        }
        #expect(checked > 400)
        #expect(refusedWrites > 100)
        #expect(mismatches.isEmpty, "\(mismatches.count) mismatches:\n\(mismatches.joined(separator: "\n"))")
    }

    static func expectation(_ relation: Relation, _ role: DatabaseRole) -> Expectation {
        Expectation(PrivilegePolicy.relations[relation.name]?.roles[role])
    }

    /// The refusal a denied statement must meet: a read, PostgreSQL's own "permission denied";
    /// a write to a table, the guard's message naming the table or column and its writers.
    struct Refusal {
        let relation: Relation
        let operation: Expectation.Operation
        let column: String?
        let role: DatabaseRole
        let login: String
        let owner: String

        /// Whether the statement is refused by a row trigger, which only a row reaches: an insert
        /// of a column by a role that may insert the table (a status column or a timestamp).
        var needsRow: Bool {
            operation == .insert && PrivilegeMatrixTests.expectation(relation, role).allowsAny(.insert)
        }

        var sqlState: String { relation.kind == "v" && operation != .select ? "55000" : "42501" }

        var message: String {
            let kind = relation.kind == "v" ? "view" : relation.kind == "S" ? "sequence" : "table"
            switch (operation, relation.kind) {
            case (.select, _), (.usage, _): return "permission denied for \(kind) \(relation.name)"
            case (.insert, "v"): return "cannot insert into view \"\(relation.name)\""
            case (.update, "v"): return "cannot update view \"\(relation.name)\""
            case (.delete, "v"): return "cannot delete from view \"\(relation.name)\""
            default: break
            }
            let policies = PrivilegePolicy.relations[relation.name]?.roles ?? [:]
            // Tables whose writers differ by column are guarded column by column.
            let perColumn =
                (operation == .update && policies.values.contains { Expectation($0).listsColumns(.update) }) || needsRow
            let target = perColumn ? "\(relation.name).\(column ?? "")" : relation.name
            let writers = DatabaseRole.allCases.filter { other in
                let expectation = Expectation(policies[other])
                return switch operation {
                case .truncate: false
                case .insert where needsRow: expectation.outcome(.update, column: column) == .allowed
                case .insert: expectation.allowsAny(.insert)
                default: expectation.outcome(operation, column: perColumn ? column : nil) == .allowed
                }
            }
            let verb =
                switch operation {
                case .insert where !needsRow: "rows inserted"
                case .delete: "rows deleted"
                case .truncate: "truncated"
                default: "written"
                }
            let owners =
                switch writers.count {
                case 0: "the schema's owner \(owner) (migrate and its triggers)"
                case 1: "the \(writers[0].groupName) role" + (writers[0] == .reconciler ? " (the sidecar)" : "")
                default:
                    "the " + writers.dropLast().map(\.groupName).joined(separator: ", ") + " and \(writers.last!.groupName) roles"
                }
            let status = perColumn && writers == [.reconciler] ? "status, " : ""
            return "\(target): \(status)\(verb) only by \(owners), not by \(login)"
        }

        /// A one-row insert of a value other than the column's default (the row guard's case).
        var rowStatement: String {
            let literal =
                switch relation.columns.first(where: { $0.name == column })?.type ?? "" {
                case "text": "'probe'"
                case "boolean": "true"
                case "jsonb": "'{\"probe\": true}'"
                case "timestamp with time zone": "'2000-01-01T00:00:00Z'"
                default: "NULL"
                }
            return "INSERT INTO \(quoted(relation.name)) (\(quoted(column ?? ""))) VALUES (\(literal))"
        }
    }

    @Test("every function is executable by exactly the roles the policy names")
    func functionMatrix() async throws {
        let database = try await RoleDatabase.create()
        var mismatches: [String] = []
        for role in DatabaseRole.allCases {
            let rows = try await database.owner.query(
                """
                SELECT oid::regprocedure::text AS f, has_function_privilege($1, oid, 'EXECUTE') AS allowed
                  FROM pg_proc WHERE pronamespace = current_schema()::regnamespace
                """, [database.login(role)]
            ).rows
            for row in rows {
                let function = try row.require(String.self, "f")
                let allowed = try row.require(Bool.self, "allowed")
                let declared = PrivilegePolicy.functions[function]?.contains(role) ?? false
                if allowed != declared { mismatches.append("\(role) EXECUTE \(function): declared \(declared), is \(allowed)") }
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.joined(separator: "\n"))")
        // And for real: a denied function is refused, an allowed one runs.
        let viewer = database.pool(as: .viewer)
        defer { Task { await viewer.close() } }
        await #expect(throws: PostgresError.self) { try await viewer.query("SELECT molecule_bump('instances', '{}')") }
        let reconciler = database.pool(as: .reconciler)
        defer { Task { await reconciler.close() } }
        try await reconciler.query("SELECT molecule_bump('instances', '{}')")
    }

    /// One statement per operation and column, each touching no row (privileges are checked and
    /// statement triggers fire all the same); TRUNCATE with CASCADE, since a table that others
    /// reference is otherwise refused for that before any trigger fires.
    static func statements(_ relation: Relation) -> [(Expectation.Operation, String?, String)] {
        let table = quoted(relation.name)
        if relation.kind == "S" {
            return [
                (.usage, nil, "SELECT nextval('\(table)')"),
                (.select, nil, "SELECT last_value FROM \(table)"),
            ]
        }
        var statements: [(Expectation.Operation, String?, String)] = []
        for column in relation.columns {
            let name = quoted(column.name)
            statements.append((.select, column.name, "SELECT \(name) FROM \(table) WHERE false"))
            statements.append((.insert, column.name, "INSERT INTO \(table) (\(name)) SELECT NULL::\(column.type) WHERE false"))
            statements.append((.update, column.name, "UPDATE \(table) SET \(name) = DEFAULT WHERE false"))
        }
        statements.append((.delete, nil, "DELETE FROM \(table) WHERE false"))
        if relation.kind != "v" { statements.append((.truncate, nil, "TRUNCATE \(table) CASCADE")) }
        return statements
    }

    /// Nil when the outcome is the expected one; otherwise what happened.
    static func check(_ sql: String, on pool: PostgresPool, expected: Expectation.Outcome, refusal: Refusal) async -> String? {
        do {
            try await pool.query(sql)
            guard expected == .denied else { return nil }
            guard refusal.needsRow else { return "it succeeded" }
            try await pool.query(refusal.rowStatement)
            return "a row of it was inserted"
        } catch let error as PostgresError {
            guard expected == .denied else { return "it failed: \(error)" }
            return error.sqlState == refusal.sqlState && error.message == refusal.message ? nil : "it failed otherwise: \(error)"
        } catch {
            return "it failed: \(error)"
        }
    }

    static func quoted(_ identifier: String) -> String { "\"" + identifier.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }
}
