import Foundation
import Postgres
import ReconcileRuntime

/// Every statement of the declared-plugins controller: its inputs (the workspace, its running
/// instance and token seed, its declarations with their privileged flag, what it delivered
/// before, the runtime's heartbeat) and the managed set it records, fenced on its lease.
public struct PluginStore: Sendable {
    private let pool: PostgresPool

    public init(pool: PostgresPool) {
        self.pool = pool
    }

    public struct Inputs: Sendable {
        public var workspaceID: String
        public var kind: String
        public var desiredState: String
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

    public struct Declaration: Sendable, Equatable {
        public var plugin: String
        public var ref: String
        public var requiresRestart: Bool
        public var privileged: Bool
    }

    /// nil when the workspace no longer exists.
    public func selectInputs(workspaceID: String) async throws -> Inputs? {
        let sql = """
            SELECT w.id, w.kind, w.desired_state, i.instance_id, i.instance_generation, i.instance_state, i.address,
                   b.token_seed, p.installed, r.plugins AS heartbeat_plugins
              FROM workspaces w
              JOIN instances i ON i.key = w.id
              JOIN secret_bundles b ON b.key = w.id
              JOIN plugin_installs p ON p.key = w.id
              LEFT JOIN workspace_runtime_status r ON r.workspace_id = w.id AND r.instance_id = i.instance_id
             WHERE w.id = $1::uuid
            """
        guard let row = try await pool.query(sql, [workspaceID]).rows.first else { return nil }
        let declarationsSQL = """
            SELECT d.plugin, d.ref, d.requires_restart, (pp.name IS NOT NULL) AS privileged
              FROM workspace_declared_plugins d LEFT JOIN privileged_plugins pp ON pp.name = d.plugin
             WHERE d.workspace_id = $1::uuid ORDER BY d.plugin
            """
        let declared = try await pool.query(declarationsSQL, [workspaceID]).rows.map { row in
            Declaration(plugin: try row.require(String.self, "plugin"), ref: try row.require(String.self, "ref"),
                        requiresRestart: try row.require(Bool.self, "requires_restart"),
                        privileged: try row.require(Bool.self, "privileged"))
        }
        return Inputs(workspaceID: try row.require(String.self, "id"), kind: try row.require(String.self, "kind"),
                      desiredState: try row.require(String.self, "desired_state"),
                      instanceID: try row.decode(String.self, "instance_id"),
                      instanceGeneration: try row.require(Int64.self, "instance_generation"),
                      instanceState: try row.decode(String.self, "instance_state"),
                      address: try row.decode(String.self, "address"),
                      tokenSeed: try row.require(String.self, "token_seed"),
                      declared: declared,
                      managed: try row.decodeJSON([String: String].self, "installed") ?? [:],
                      heartbeatPlugins: try row.decodeJSON([String: String].self, "heartbeat_plugins"))
    }

    /// Records the managed set, if it changed and the lease is still ours.
    public func recordManaged(_ managed: [String: String], workspaceID: String, fence: Fence) async throws {
        let json = String(decoding: try JSONSerialization.data(withJSONObject: managed, options: [.sortedKeys]), as: UTF8.self)
        let sql = """
            UPDATE plugin_installs p SET installed = $2::jsonb
             WHERE p.key = $1::uuid AND p.installed IS DISTINCT FROM $2::jsonb
               AND EXISTS (SELECT 1 FROM leases l WHERE l.controller = 'plugin_installs' AND l.key = p.key
                           AND l.holder = $3 AND l.token = $4)
            """
        try await pool.query(sql, [workspaceID, json, fence.holder, fence.token])
    }

    /// Wakes the instances controller of this workspace: what its runtime reports changed (a
    /// plugin arrived), so its health is judged again now rather than at its next retry.
    public func wakeInstances(workspaceID: String) async throws {
        try await pool.query("SELECT molecule_bump('instances', ARRAY[$1::uuid])", [workspaceID])
    }
}
