import Foundation
import Postgres

/// The operator's read-only views of the fleet (`get`, `status`, `wait`): workspaces, tenants,
/// plugins and events by name, never by UUID. Nothing here writes; every statement is a join
/// over the spec, status and controller tables read as they are now.
public struct FleetQueries: Sendable {
    let pool: PostgresPool

    public init(pool: PostgresPool) {
        self.pool = pool
    }

    /// The channel the schema notifies when a workspace's status, a tenant's ingress status or
    /// an event moves (`manifests/schema/0011_watch_channel.sql`); the payload is a key or `*`.
    public static let statusChannel = "molecule_status"

    public struct WorkspaceRow: Sendable, Codable, Equatable {
        public var id: String
        public var org: String
        public var name: String
        public var kind: String
        public var desiredState: String
        public var phase: String
        /// The aggregate `Ready` condition's status ("True", "False"), nil before any was written.
        public var ready: String?
        public var readyReason: String?
        public var readyMessage: String?
        public var restartPending: Bool
        public var instanceID: String?
        public var address: String?
        public var image: String
        public var template: String?
        public var lastError: String?
        public var createdAt: Date
        /// Seconds since `createdAt`, by the database's clock.
        public var ageSeconds: Double
    }

    /// Workspaces by org and name (of one org, if given).
    public func selectWorkspaces(org: String? = nil) async throws -> [WorkspaceRow] {
        let sql = """
            SELECT w.id, w.org, w.name, w.kind, w.desired_state, w.phase, w.restart_pending, w.image, w.template,
                   w.last_error, w.created_at, extract(epoch FROM now() - w.created_at)::float8 AS age,
                   CASE WHEN jsonb_typeof(w.conditions -> 'Ready') = 'object' THEN w.conditions -> 'Ready' ->> 'status' END AS ready,
                   CASE WHEN jsonb_typeof(w.conditions -> 'Ready') = 'object' THEN w.conditions -> 'Ready' ->> 'reason' END AS ready_reason,
                   CASE WHEN jsonb_typeof(w.conditions -> 'Ready') = 'object' THEN w.conditions -> 'Ready' ->> 'message' END AS ready_message,
                   i.instance_id, i.address
              FROM workspaces w LEFT JOIN instances i ON i.key = w.id
             WHERE $1::text IS NULL OR w.org = $1
             ORDER BY w.org, w.name
            """
        return try await pool.query(sql, [org]).rows.map(Self.workspace)
    }

    /// One workspace by `org/name` or by id; nil when there is none.
    public func selectWorkspace(_ reference: WorkspaceReference) async throws -> WorkspaceRow? {
        let sql = """
            SELECT w.id, w.org, w.name, w.kind, w.desired_state, w.phase, w.restart_pending, w.image, w.template,
                   w.last_error, w.created_at, extract(epoch FROM now() - w.created_at)::float8 AS age,
                   CASE WHEN jsonb_typeof(w.conditions -> 'Ready') = 'object' THEN w.conditions -> 'Ready' ->> 'status' END AS ready,
                   CASE WHEN jsonb_typeof(w.conditions -> 'Ready') = 'object' THEN w.conditions -> 'Ready' ->> 'reason' END AS ready_reason,
                   CASE WHEN jsonb_typeof(w.conditions -> 'Ready') = 'object' THEN w.conditions -> 'Ready' ->> 'message' END AS ready_message,
                   i.instance_id, i.address
              FROM workspaces w LEFT JOIN instances i ON i.key = w.id
             WHERE (w.id::text = $1 AND $2::text IS NULL) OR (w.org = $2 AND w.name = $1)
            """
        let parameters: [(any PostgresEncodable)?] =
            switch reference {
            case .id(let id): [id.lowercased(), nil]
            case .name(let org, let name): [name, org]
            }
        return try await pool.query(sql, parameters).rows.first.map(Self.workspace)
    }

    private static func workspace(_ row: PostgresRow) throws -> WorkspaceRow {
        WorkspaceRow(
            id: try row.require(String.self, "id"), org: try row.require(String.self, "org"),
            name: try row.require(String.self, "name"), kind: try row.require(String.self, "kind"),
            desiredState: try row.require(String.self, "desired_state"), phase: try row.require(String.self, "phase"),
            ready: try row.decode(String.self, "ready"), readyReason: try row.decode(String.self, "ready_reason"),
            readyMessage: try row.decode(String.self, "ready_message"),
            restartPending: try row.require(Bool.self, "restart_pending"),
            instanceID: try row.decode(String.self, "instance_id"), address: try row.decode(String.self, "address"),
            image: try row.require(String.self, "image"), template: try row.decode(String.self, "template"),
            lastError: try row.decode(String.self, "last_error"), createdAt: try row.require(Date.self, "created_at"),
            ageSeconds: try row.require(Double.self, "age"))
    }

    public struct TenantRow: Sendable, Codable, Equatable {
        public var id: String
        public var name: String
        public var hostname: String
        public var tunnelID: String
        /// Rules of the tenant's hostname the tunnel held when last read back; nil before.
        public var appliedRules: Int?
        public var appliedAt: Date?
        /// `platform_paths` patterns left out of this tenant's rules.
        public var skippedPaths: Int
        public var converged: Bool
        public var lastError: String?
        public var ageSeconds: Double
    }

    public func selectTenants() async throws -> [TenantRow] {
        let sql = """
            SELECT t.id, t.name, t.hostname, t.tunnel_id, i.applied_rules, i.applied_at, i.last_error,
                   CASE WHEN jsonb_typeof(i.skipped_paths) = 'array' THEN jsonb_array_length(i.skipped_paths) ELSE 0 END AS skipped,
                   coalesce(i.desired_generation = i.observed_generation, false) AS converged,
                   extract(epoch FROM now() - t.created_at)::float8 AS age
              FROM tenants t LEFT JOIN tunnel_ingress i ON i.key = t.id
             ORDER BY t.name
            """
        return try await pool.query(sql).rows.map { row in
            TenantRow(
                id: try row.require(String.self, "id"), name: try row.require(String.self, "name"),
                hostname: try row.require(String.self, "hostname"), tunnelID: try row.require(String.self, "tunnel_id"),
                appliedRules: try row.decode(Int.self, "applied_rules"), appliedAt: try row.decode(Date.self, "applied_at"),
                skippedPaths: try row.require(Int.self, "skipped"), converged: try row.require(Bool.self, "converged"),
                lastError: try row.decode(String.self, "last_error"), ageSeconds: try row.require(Double.self, "age"))
        }
    }

    public struct PluginRow: Sendable, Codable, Equatable {
        public var org: String
        public var workspace: String
        public var plugin: String
        /// The declared ref; nil for a plugin delivered before and no longer declared (removed next).
        public var desired: String?
        /// The ref this controller delivered into the running instance; nil while not there.
        public var installed: String?
        public var requiresRestart: Bool
        public var privileged: Bool
        public var lastError: String?
    }

    /// Every declared plugin, and every delivered one no longer declared, per workspace.
    public func selectPlugins(org: String? = nil) async throws -> [PluginRow] {
        let sql = """
            SELECT w.org, w.name AS workspace, p.plugin, d.ref AS desired,
                   CASE WHEN jsonb_typeof(pi.installed) = 'object' THEN pi.installed ->> p.plugin END AS installed,
                   coalesce(d.requires_restart, false) AS requires_restart,
                   EXISTS (SELECT 1 FROM privileged_plugins pp WHERE pp.name = p.plugin) AS privileged,
                   pi.last_error
              FROM workspaces w JOIN plugin_installs pi ON pi.key = w.id
              CROSS JOIN LATERAL (
                    SELECT plugin FROM workspace_declared_plugins WHERE workspace_id = w.id
                    UNION
                    SELECT k FROM jsonb_object_keys(CASE WHEN jsonb_typeof(pi.installed) = 'object' THEN pi.installed ELSE '{}' END) k
                   ) p (plugin)
              LEFT JOIN workspace_declared_plugins d ON d.workspace_id = w.id AND d.plugin = p.plugin
             WHERE $1::text IS NULL OR w.org = $1
             ORDER BY w.org, w.name, p.plugin
            """
        return try await pool.query(sql, [org]).rows.map { row in
            PluginRow(
                org: try row.require(String.self, "org"), workspace: try row.require(String.self, "workspace"),
                plugin: try row.require(String.self, "plugin"), desired: try row.decode(String.self, "desired"),
                installed: try row.decode(String.self, "installed"),
                requiresRestart: try row.require(Bool.self, "requires_restart"),
                privileged: try row.require(Bool.self, "privileged"), lastError: try row.decode(String.self, "last_error"))
        }
    }

    public struct EventRow: Sendable, Codable, Equatable {
        public var id: Int64
        /// `workspace` or `tenant`; nil when the key's row is gone.
        public var objectKind: String?
        /// `org/name` of a workspace, a tenant's name, or the key of a row that is gone.
        public var object: String
        public var controller: String
        public var type: String
        public var reason: String
        public var message: String
        public var count: Int
        public var firstSeen: Date
        public var lastSeen: Date
        public var ageSeconds: Double
    }

    /// The newest `limit` events (of one org, or of one key), oldest first.
    public func selectEvents(org: String? = nil, key: String? = nil, limit: Int = 50) async throws -> [EventRow] {
        let sql = """
            SELECT * FROM (
                SELECT e.id, e.controller, e.key, e.type, e.reason, e.message, e.count, e.first_seen, e.last_seen,
                       CASE WHEN w.id IS NOT NULL THEN 'workspace' WHEN t.id IS NOT NULL THEN 'tenant' END AS object_kind,
                       coalesce(w.org || '/' || w.name, t.name, e.key::text) AS object,
                       extract(epoch FROM now() - e.last_seen)::float8 AS age
                  FROM events e LEFT JOIN workspaces w ON w.id = e.key LEFT JOIN tenants t ON t.id = e.key
                 WHERE ($1::text IS NULL OR w.org = $1) AND ($2::uuid IS NULL OR e.key = $2::uuid)
                 ORDER BY e.last_seen DESC, e.id DESC LIMIT $3) newest
             ORDER BY last_seen, id
            """
        return try await pool.query(sql, [org, key, limit]).rows.map { row in
            EventRow(
                id: try row.require(Int64.self, "id"), objectKind: try row.decode(String.self, "object_kind"),
                object: try row.require(String.self, "object"), controller: try row.require(String.self, "controller"),
                type: try row.require(String.self, "type"), reason: try row.require(String.self, "reason"),
                message: try row.require(String.self, "message"), count: try row.require(Int.self, "count"),
                firstSeen: try row.require(Date.self, "first_seen"), lastSeen: try row.require(Date.self, "last_seen"),
                ageSeconds: try row.require(Double.self, "age"))
        }
    }
}

extension FleetQueries {
    /// The names of these controller keys: `workspace/ORG/NAME` or `tenant/NAME` (keys whose
    /// row is gone are left out).
    public func selectNames(of keys: [String]) async throws -> [String: String] {
        guard !keys.isEmpty else { return [:] }
        let sql = """
            SELECT id::text AS key, 'workspace/' || org || '/' || name AS object FROM workspaces WHERE id = ANY($1::uuid[])
            UNION ALL
            SELECT id::text, 'tenant/' || name FROM tenants WHERE id = ANY($1::uuid[])
            """
        return try await pool.query(sql, [keys]).rows.reduce(into: [:]) {
            $0[try $1.require(String.self, "key")] = try $1.require(String.self, "object")
        }
    }
}

/// How an operator names a workspace: `org/name`, or its id.
public enum WorkspaceReference: Sendable, Equatable, CustomStringConvertible {
    case id(String)
    case name(org: String, name: String)

    /// `org/name`, or a UUID; nil for anything else.
    public init?(_ text: String) {
        if UUID(uuidString: text) != nil {
            self = .id(text)
            return
        }
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { return nil }
        self = .name(org: String(parts[0]), name: String(parts[1]))
    }

    public var description: String {
        switch self {
        case .id(let id): id
        case .name(let org, let name): "\(org)/\(name)"
        }
    }
}
