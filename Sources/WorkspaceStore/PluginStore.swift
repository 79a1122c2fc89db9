import Foundation
import Postgres
import ReconcileRuntime
import ReconcileStore
import WorkspaceModel

/// Every statement of the declared-plugins controller: its inputs (the workspace, its running
/// instance and token seed, its declarations with their privileged flag, what it delivered
/// before, the runtime's heartbeat) in one round trip, and how its status value (the managed
/// set) is written.
public struct PluginStore: Sendable, StatusWriter {
    private let pool: PostgresPool

    public init(pool: PostgresPool) {
        self.pool = pool
    }

    public struct Inputs: Sendable {
        public var workspaceID: String
        public var kind: WorkspaceKind
        public var desiredState: DesiredState
        public var instanceID: String?
        public var instanceGeneration: Int64
        public var instanceState: String?
        public var address: String?
        /// Seed of the instance tokens (secret: never logged).
        public var tokenSeed: String
        public var declared: [Declaration]
        /// What this controller delivered before: name -> ref.
        public var managed: [String: String]
        /// What the heartbeat of the current instance reports installed, if it reported.
        public var heartbeatPlugins: [String: String]?
    }

    public struct Declaration: Sendable, Equatable, Decodable {
        public var plugin: String
        public var ref: String
        public var requiresRestart: Bool
        public var privileged: Bool

        enum CodingKeys: String, CodingKey {
            case plugin, ref, privileged
            case requiresRestart = "requires_restart"
        }
    }

    /// nil when the workspace no longer exists.
    public func selectInputs(workspaceID: String) async throws -> Inputs? {
        let sql = """
            SELECT w.id, w.kind, w.desired_state, i.instance_id, i.instance_generation, i.instance_state, i.address,
                   b.token_seed, p.installed, r.plugins AS heartbeat_plugins,
                   (SELECT coalesce(jsonb_agg(d ORDER BY d.plugin), '[]') FROM (
                        SELECT d.plugin, d.ref, d.requires_restart, (pp.name IS NOT NULL) AS privileged
                          FROM workspace_declared_plugins d LEFT JOIN privileged_plugins pp ON pp.name = d.plugin
                         WHERE d.workspace_id = w.id) d) AS declared
              FROM workspaces w
              JOIN instances i ON i.key = w.id
              JOIN secret_bundles b ON b.key = w.id
              JOIN plugin_installs p ON p.key = w.id
              LEFT JOIN workspace_runtime_status r ON r.workspace_id = w.id AND r.instance_id = i.instance_id
             WHERE w.id = $1::uuid
            """
        guard let row = try await pool.query(sql, [workspaceID]).rows.first else { return nil }
        return Inputs(
            workspaceID: try row.require(String.self, "id"), kind: try row.requireEnum(WorkspaceKind.self, "kind"),
            desiredState: try row.requireEnum(DesiredState.self, "desired_state"),
            instanceID: try row.decode(String.self, "instance_id"),
            instanceGeneration: try row.require(Int64.self, "instance_generation"),
            instanceState: try row.decode(String.self, "instance_state"),
            address: try row.decode(String.self, "address"),
            tokenSeed: try row.require(String.self, "token_seed"),
            declared: try row.decodeJSON([Declaration].self, "declared") ?? [],
            managed: try row.decodeJSON([String: String].self, "installed") ?? [:],
            heartbeatPlugins: try row.decodeJSON([String: String].self, "heartbeat_plugins"))
    }

    /// How a `PluginStatus` is written: the managed set, and the workspace's PluginsInstalled
    /// condition and last_error.
    public var statusColumns: StatusColumns {
        StatusColumns(
            columns: [
                .init("installed", "coalesce(p.status -> 'managed', s.installed)")
            ], statements: [WorkspaceStatusStatement.make(includingPhase: false)], owner: WorkspaceStatusStatement.owner)
    }
}

/// The declared-plugins controller's status value. Field names are read by `PluginStore.statusColumns`.
public struct PluginStatus: StatusPatch, Equatable {
    /// What this controller delivered and still manages (name -> ref); nil leaves it as it is.
    public var managed: [String: String]?
    public var condition: WorkspaceCondition
    public var error: String?

    public init(managed: [String: String]? = nil, condition: WorkspaceCondition, error: String? = nil) {
        self.managed = managed
        self.condition = condition
        self.error = error
    }
}
