import Foundation
import Postgres
import ReconcileRuntime

/// Every statement of the secrets-bundle controller: reading its inputs (the workspace, its
/// template, its secrets and its org's, the instance generation to stage for) and recording
/// what was staged in `secret_bundles`, fenced on the controller's lease.
public struct BundleStore: Sendable {
    private let pool: PostgresPool

    public init(pool: PostgresPool) {
        self.pool = pool
    }

    public struct Inputs: Sendable {
        public var workspaceID: String
        public var org: String
        public var kind: String
        public var desiredState: String
        public var template: String?
        /// The template's `files` as stored; nil when it is not an object of text values.
        public var templateFiles: [String: String]?
        public var targetGeneration: Int64
        public var tokenSeed: String
        public var stagedHash: String?
        public var stagedGeneration: Int64?
        public var secrets: [Secret]
        /// Declared plugins the runtime loads only at boot: name -> ref. Privileged ones only for
        /// platform workspaces (fail closed).
        public var bootPlugins: [String: String]
    }

    public struct Secret: Sendable {
        public var scope: String
        public var key: String
        public var value: String
        public var runtimeConsumed: Bool
        public var writtenBy: String
        public var writtenAt: Date
    }

    /// nil when the workspace no longer exists.
    public func selectInputs(workspaceID: String) async throws -> Inputs? {
        let sql = """
            SELECT w.id, w.org, w.kind, w.desired_state, w.template,
                   CASE WHEN t.files IS NULL THEN '{}'::jsonb
                        WHEN (SELECT bool_and(jsonb_typeof(v) = 'string') FROM jsonb_each(t.files) AS f(k, v)) IS NOT FALSE
                        THEN t.files END AS files,
                   i.target_generation, b.token_seed, b.staged_hash, b.staged_generation
              FROM workspaces w
              JOIN secret_bundles b ON b.key = w.id
              JOIN instances i ON i.key = w.id
              LEFT JOIN templates t ON t.name = w.template
             WHERE w.id = $1::uuid
            """
        guard let row = try await pool.query(sql, [workspaceID]).rows.first else { return nil }
        let org = try row.require(String.self, "org")
        let secretsSQL = """
            SELECT 'workspace' AS scope, key, value, runtime_consumed, written_by, written_at
              FROM workspace_secrets WHERE workspace_id = $1::uuid
            UNION ALL
            SELECT 'org', key, value, runtime_consumed, written_by, written_at FROM org_secrets WHERE org = $2
            """
        let secrets = try await pool.query(secretsSQL, [workspaceID, org]).rows.map { row in
            Secret(scope: try row.require(String.self, "scope"), key: try row.require(String.self, "key"),
                   value: try row.require(String.self, "value"), runtimeConsumed: try row.require(Bool.self, "runtime_consumed"),
                   writtenBy: try row.require(String.self, "written_by"), writtenAt: try row.require(Date.self, "written_at"))
        }
        let pluginsSQL = """
            SELECT d.plugin, d.ref FROM workspace_declared_plugins d JOIN workspaces w ON w.id = d.workspace_id
             WHERE d.workspace_id = $1::uuid AND d.requires_restart
               AND (w.kind = 'platform' OR NOT EXISTS (SELECT 1 FROM privileged_plugins p WHERE p.name = d.plugin))
            """
        let bootPlugins = try await pool.query(pluginsSQL, [workspaceID]).rows.reduce(into: [String: String]()) {
            $0[try $1.require(String.self, "plugin")] = try $1.require(String.self, "ref")
        }
        return Inputs(workspaceID: try row.require(String.self, "id"), org: org,
                      kind: try row.require(String.self, "kind"),
                      desiredState: try row.require(String.self, "desired_state"),
                      template: try row.decode(String.self, "template"),
                      templateFiles: try row.decodeJSON([String: String].self, "files"),
                      targetGeneration: try row.require(Int64.self, "target_generation"),
                      tokenSeed: try row.require(String.self, "token_seed"),
                      stagedHash: try row.decode(String.self, "staged_hash"),
                      stagedGeneration: try row.decode(Int64.self, "staged_generation"),
                      secrets: secrets, bootPlugins: bootPlugins)
    }

    public struct Staged: Sendable, Equatable {
        public var hash: String?
        public var runtimeHash: String?
        public var generation: Int64?
        public var version: String?

        public init(hash: String?, runtimeHash: String?, generation: Int64?, version: String?) {
            self.hash = hash
            self.runtimeHash = runtimeHash
            self.generation = generation
            self.version = version
        }
    }

    /// Records what the secret store holds, if it changed and the lease is still ours.
    public func recordStaged(workspaceID: String, _ staged: Staged, fence: Fence, now: Date?) async throws {
        let sql = """
            UPDATE secret_bundles b
               SET staged_hash = $3, staged_runtime_hash = $4, staged_generation = $5, staged_version = $6,
                   staged_at = coalesce($7::timestamptz, now())
             WHERE b.key = $1::uuid
               AND (b.staged_hash, b.staged_runtime_hash, b.staged_generation, b.staged_version)
                   IS DISTINCT FROM ($3, $4, $5::bigint, $6)
               AND EXISTS (SELECT 1 FROM leases l WHERE l.controller = 'secret_bundles' AND l.key = b.key
                           AND l.holder = $2 AND l.token = $8)
            """
        try await pool.query(sql, [workspaceID, fence.holder, staged.hash, staged.runtimeHash, staged.generation,
                                   staged.version, now, fence.token])
    }
}
