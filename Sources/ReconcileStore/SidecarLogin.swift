import Postgres

/// The login the sidecar runs its controllers under on the embedded default: a member of the
/// reconciler role (`molecule_roles`, schema 0010) and of nothing else, so that its privilege
/// check passes without a warning. Migration, and loading the example fleet, stay with the
/// schema's owner (the embedded server's superuser); roles are cluster-wide, so this is one
/// login per embedded server, created the first time and repaired, never duplicated, after.
public enum SidecarLogin {
    /// Creates the login if it is missing, makes sure it is an ordinary login role with the
    /// reconciler role's privileges, and returns its name: `<prefix>sidecar` for a reconciler
    /// role named `<prefix>reconciler` (`molecule_sidecar` by default). Run as the schema's owner.
    public static func ensure(owner: PostgresPool) async throws -> String {
        let reconciler = try await owner.query("SELECT name FROM molecule_roles WHERE role = 'reconciler'").rows.first?
            .require(String.self, "name")
        guard let reconciler else { throw MissingRoles() }
        let login = name(forReconcilerRole: reconciler)
        let exists = try await !owner.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [login]).rows.isEmpty
        if !exists {
            do {
                try await owner.query("CREATE ROLE \(quoted(login)) LOGIN")
            } catch let error as PostgresError where error.sqlState == "42710" {
                // Created by another process at the same moment: it is the same login.
            }
        }
        try await owner.query(
            "ALTER ROLE \(quoted(login)) LOGIN INHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS")
        try await owner.query("GRANT \(quoted(reconciler)) TO \(quoted(login))")
        return login
    }

    /// `molecule_reconciler` -> `molecule_sidecar`; a name without that suffix gets `_sidecar`.
    static func name(forReconcilerRole reconciler: String) -> String {
        reconciler.hasSuffix("reconciler") ? String(reconciler.dropLast("reconciler".count)) + "sidecar" : reconciler + "_sidecar"
    }

    static func quoted(_ identifier: String) -> String { "\"" + identifier.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }

    /// The schema has no roles yet (it predates schema 0010).
    public struct MissingRoles: Error, CustomStringConvertible {
        public var description: String {
            "the database has no roles of schema 0010 to run the sidecar under; run `molecule-reconciler migrate`"
        }
    }
}
