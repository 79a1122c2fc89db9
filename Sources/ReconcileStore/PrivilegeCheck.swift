import Foundation
import Logging
import Postgres

/// The sidecar's own database privileges, compared at start with those of the reconciler role
/// (`molecule_roles`, schema 0010): the sidecar needs exactly those. Less is an error that names
/// what is missing; more (a superuser, the schema's owner, a member of `operator` too, DDL) is a
/// Warning, logged and recorded as an event, because it runs anyway.
public struct PrivilegeCheck: Sendable {
    /// What the current role can do beyond, and short of, the reconciler role.
    public struct Report: Sendable, Equatable {
        /// The role the sidecar's sessions run as (`current_user`).
        public var role: String
        /// The role the sidecar should have the privileges of, e.g. `molecule_reconciler`.
        public var reconcilerRole: String
        public var superuser: Bool
        /// "UPDATE on workspaces (image, name)", "CREATE on schema public", "BYPASSRLS",
        /// "member of molecule_operator"...
        public var excess: [String]
        public var missing: [String]
    }

    /// The sidecar cannot do its work under this role.
    public struct MissingPrivileges: Error, CustomStringConvertible {
        public let report: Report

        public var description: String {
            "the database role \(report.role) lacks privileges the sidecar needs (those of \(report.reconcilerRole)): "
                + PrivilegeCheck.list(report.missing, limit: .max)
                + "; GRANT \(report.reconcilerRole) TO \(report.role) as the schema's owner"
        }
    }

    /// The event's controller and key: the sidecar as a whole, not a resource.
    public static let eventController = "reconciler"
    public static let eventKey = "00000000-0000-0000-0000-000000000000"
    public static let excessReason = "ExcessPrivileges"

    private let pool: PostgresPool

    public init(pool: PostgresPool) {
        self.pool = pool
    }

    /// Throws `MissingPrivileges` when the role can do less than the reconciler role; logs a
    /// warning and records a Warning event when it can do more.
    public func enforce(logger: Logger) async throws {
        let report = try await inspect()
        guard report.missing.isEmpty else { throw MissingPrivileges(report: report) }
        guard !report.excess.isEmpty else { return }
        let message =
            "the sidecar's database role \(report.role) can do more than \(report.reconcilerRole) needs: "
            + Self.list(report.excess)
        logger.warning(
            "the sidecar's database role has more privileges than it needs",
            metadata: ["role": "\(report.role)", "needs": "\(report.reconcilerRole)", "excess": "\(Self.list(report.excess))"])
        try await EventStore(pool: pool).record(
            controller: Self.eventController, key: Self.eventKey, type: .warning, reason: Self.excessReason, message: message)
    }

    /// Compares the current role's privileges on every object of the schema with the
    /// reconciler role's. A superuser's excess is reported as `SUPERUSER` alone.
    public func inspect() async throws -> Report {
        let head = try await pool.query(
            """
            SELECT current_user::text AS role, r.rolsuper AS superuser,
                   (SELECT name FROM molecule_roles WHERE role = 'reconciler') AS reconciler
              FROM pg_roles r WHERE r.rolname = current_user
            """
        ).rows[0]
        let role = try head.require(String.self, "role")
        let superuser = try head.require(Bool.self, "superuser")
        guard let reconciler = try head.decode(String.self, "reconciler") else {
            throw MissingPrivileges(
                report: .init(
                    role: role, reconcilerRole: "the reconciler role", superuser: superuser, excess: [],
                    missing: ["the roles of schema 0010 (run `molecule-reconciler migrate`)"]))
        }
        if superuser {
            return Report(role: role, reconcilerRole: reconciler, superuser: true, excess: ["SUPERUSER"], missing: [])
        }
        let rows = try await pool.query(Self.differences, [reconciler]).rows
        var report = Report(role: role, reconcilerRole: reconciler, superuser: false, excess: [], missing: [])
        for row in rows {
            let what = try row.require(String.self, "what")
            if try row.require(Bool.self, "excess") { report.excess.append(what) } else { report.missing.append(what) }
        }
        return report
    }

    static func list(_ items: [String], limit: Int = 12) -> String {
        items.count <= limit
            ? items.joined(separator: ", ")
            : items.prefix(limit).joined(separator: ", ") + " and \(items.count - limit) more"
    }

    /// Every privilege on the schema's objects that `current_user` has and $1 has not (excess),
    /// or the other way round; column privileges grouped per table and privilege. Membership of
    /// another of the schema's roles is excess too: since schema 0012 every role holds the writes
    /// it is refused, and the guards, not the privileges, tell who may make them: they admit the
    /// members of the reconciler role (and the schema's owner), so that membership is needed.
    static let differences = """
        WITH roles AS (SELECT current_user::name AS me, $1::name AS rec),
        rels AS (
            SELECT c.oid, c.relname::text AS relname, c.relkind FROM pg_class c
             WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
        ),
        columns AS (
            SELECT r.relname, a.attname::text AS col, p.priv,
                   has_column_privilege(roles.me, r.oid, a.attnum, p.priv) AS mine,
                   has_column_privilege(roles.rec, r.oid, a.attnum, p.priv) AS needed
              FROM rels r JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
             CROSS JOIN roles CROSS JOIN unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'REFERENCES']) AS p (priv)
             WHERE r.relkind <> 'S'
        ),
        by_table AS (
            SELECT relname, priv, count(*) AS total,
                   array_agg(col ORDER BY col) FILTER (WHERE mine AND NOT needed) AS extra,
                   array_agg(col ORDER BY col) FILTER (WHERE needed AND NOT mine) AS lacking
              FROM columns GROUP BY relname, priv
        ),
        objects AS (
            SELECT r.relname AS object, p.priv,
                   has_table_privilege(roles.me, r.oid, p.priv) AS mine, has_table_privilege(roles.rec, r.oid, p.priv) AS needed
              FROM rels r CROSS JOIN roles CROSS JOIN unnest(ARRAY['DELETE', 'TRUNCATE', 'TRIGGER']) AS p (priv)
             WHERE r.relkind <> 'S'
            UNION ALL
            SELECT r.relname, p.priv,
                   has_sequence_privilege(roles.me, r.oid, p.priv), has_sequence_privilege(roles.rec, r.oid, p.priv)
              FROM rels r CROSS JOIN roles CROSS JOIN unnest(ARRAY['USAGE', 'SELECT', 'UPDATE']) AS p (priv)
             WHERE r.relkind = 'S'
            UNION ALL
            SELECT f.oid::regprocedure::text, 'EXECUTE',
                   has_function_privilege(roles.me, f.oid, 'EXECUTE'), has_function_privilege(roles.rec, f.oid, 'EXECUTE')
              FROM pg_proc f CROSS JOIN roles WHERE f.pronamespace = current_schema()::regnamespace
            UNION ALL
            SELECT 'schema ' || current_schema(), p.priv,
                   has_schema_privilege(roles.me, current_schema(), p.priv), has_schema_privilege(roles.rec, current_schema(), p.priv)
              FROM roles CROSS JOIN unnest(ARRAY['USAGE', 'CREATE']) AS p (priv)
            UNION ALL
            SELECT 'database ' || current_database(), 'CREATE',
                   has_database_privilege(roles.me, current_database(), 'CREATE'),
                   has_database_privilege(roles.rec, current_database(), 'CREATE')
              FROM roles
        )
        SELECT true AS excess, priv || ' on ' || relname
                   || CASE WHEN cardinality(extra) = total THEN '' ELSE ' (' || array_to_string(extra, ', ') || ')' END AS what
          FROM by_table WHERE extra IS NOT NULL
        UNION ALL
        SELECT false, priv || ' on ' || relname
                   || CASE WHEN cardinality(lacking) = total THEN '' ELSE ' (' || array_to_string(lacking, ', ') || ')' END
          FROM by_table WHERE lacking IS NOT NULL
        UNION ALL
        SELECT mine, priv || ' on ' || object FROM objects WHERE mine <> needed
        UNION ALL
        SELECT true, 'member of ' || m.name FROM molecule_roles m
         WHERE m.role <> 'reconciler' AND pg_has_role(current_user, m.name, 'USAGE')
        UNION ALL
        SELECT false, 'membership of ' || rec FROM roles
         WHERE NOT pg_has_role(me, rec, 'USAGE')
           AND NOT pg_has_role(me, (SELECT relowner FROM pg_class WHERE oid = 'workspaces'::regclass), 'USAGE')
        UNION ALL
        SELECT true, attribute FROM pg_roles r,
               LATERAL (VALUES ('CREATEROLE', r.rolcreaterole), ('CREATEDB', r.rolcreatedb), ('BYPASSRLS', r.rolbypassrls),
                               ('REPLICATION', r.rolreplication)) AS a (attribute, held)
         WHERE r.rolname = current_user AND held
        ORDER BY 1, 2
        """
}
