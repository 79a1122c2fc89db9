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
        let pool = database.pool(as: role)
        defer { Task { await pool.close() } }
        var mismatches: [String] = []
        var checked = 0
        for relation in try await Self.catalog(database.owner) {
            let expectation = Expectation(PrivilegePolicy.relations[relation.name]?.roles[role])
            for (operation, column, sql) in Self.statements(relation) {
                let expected = expectation.outcome(operation, column: column)
                let what = "\(role) \(operation) \(relation.name)\(column.map { ".\($0)" } ?? "")"
                checked += 1
                if let problem = await Self.check(
                    sql, on: pool, expected: expected, relation: relation, column: column, login: login)
                {
                    mismatches.append("\(what): expected \(expected), \(problem)")
                }
            }
        }
        #expect(checked > 400)
        #expect(mismatches.isEmpty, "\(mismatches.count) mismatches:\n\(mismatches.joined(separator: "\n"))")
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
    /// statement triggers fire all the same).
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
        return statements
    }

    /// Nil when the outcome is the expected one; otherwise what happened.
    static func check(
        _ sql: String, on pool: PostgresPool, expected: Expectation.Outcome, relation: Relation, column: String?,
        login: String
    ) async -> String? {
        do {
            try await pool.query(sql)
            return expected == .allowed ? nil : "it succeeded"
        } catch let error as PostgresError {
            let owner = "written only by the molecule_reconciler role (the sidecar), not by \(login)"
            switch expected {
            case .allowed:
                return "it failed: \(error)"
            case .guarded:
                let message = error.message
                let expectedMessages = [
                    "\(relation.name): \(owner)", column.map { "\(relation.name).\($0): status, \(owner)" } ?? "",
                ]
                return error.sqlState == "42501" && expectedMessages.contains(message) ? nil : "it failed otherwise: \(error)"
            case .denied:
                let kind = relation.kind == "v" ? "view" : relation.kind == "S" ? "sequence" : "table"
                if error.sqlState == "42501", error.message == "permission denied for \(kind) \(relation.name)" { return nil }
                // A write to a view that is not updatable is refused before privileges are looked at.
                if relation.kind == "v", error.sqlState == "55000" { return nil }
                return "it failed otherwise: \(error)"
            }
        } catch {
            return "it failed: \(error)"
        }
    }

    static func quoted(_ identifier: String) -> String { "\"" + identifier.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }
}
