import Foundation
import Postgres
import ReconcileRuntime
import ReconcileStore
import WorkspaceModel

/// Every statement of the secrets-bundle controller: its inputs (the workspace, its template,
/// its secrets and its org's, its boot plugins, the instance generation to stage for) in one
/// round trip, and how its status value (what was staged) is written.
public struct BundleStore: Sendable, StatusWriter {
    private let pool: PostgresPool

    public init(pool: PostgresPool) {
        self.pool = pool
    }

    public struct Inputs: Sendable {
        public var workspaceID: String
        public var org: String
        public var kind: WorkspaceKind
        public var desiredState: DesiredState
        public var template: String?
        /// The template's `files` as stored; nil when it is not an object of text values.
        public var templateFiles: [String: String]?
        public var targetGeneration: Int64
        /// Seed of the instance tokens (secret: never logged).
        public var tokenSeed: String
        public var stagedHash: String?
        public var stagedGeneration: Int64?
        public var secrets: [Secret]
        /// Declared plugins the runtime loads only at boot: name -> ref. Privileged ones only for
        /// platform workspaces (fail closed).
        public var bootPlugins: [String: String]
    }

    public struct Secret: Sendable, Decodable {
        public var scope: String
        public var key: String
        public var value: String
        public var runtimeConsumed: Bool

        enum CodingKeys: String, CodingKey {
            case scope, key, value
            case runtimeConsumed = "runtime_consumed"
        }
    }

    /// nil when the workspace no longer exists.
    public func selectInputs(workspaceID: String) async throws -> Inputs? {
        let sql = """
            SELECT w.id, w.org, w.kind, w.desired_state, w.template,
                   CASE WHEN t.files IS NULL THEN '{}'::jsonb
                        WHEN (SELECT bool_and(jsonb_typeof(v) = 'string') FROM jsonb_each(t.files) AS f(k, v)) IS NOT FALSE
                        THEN t.files END AS files,
                   i.target_generation, b.token_seed, b.staged_hash, b.staged_generation,
                   (SELECT coalesce(jsonb_agg(s), '[]') FROM (
                        SELECT 'workspace' AS scope, key, value, runtime_consumed FROM workspace_secrets WHERE workspace_id = w.id
                        UNION ALL
                        SELECT 'org', key, value, runtime_consumed FROM org_secrets WHERE org = w.org) s) AS secrets,
                   (SELECT coalesce(jsonb_object_agg(d.plugin, d.ref), '{}') FROM workspace_declared_plugins d
                     WHERE d.workspace_id = w.id AND d.requires_restart
                       AND (w.kind = 'platform' OR NOT EXISTS (SELECT 1 FROM privileged_plugins p WHERE p.name = d.plugin))
                   ) AS boot_plugins
              FROM workspaces w
              JOIN secret_bundles b ON b.key = w.id
              JOIN instances i ON i.key = w.id
              LEFT JOIN templates t ON t.name = w.template
             WHERE w.id = $1::uuid
            """
        guard let row = try await pool.query(sql, [workspaceID]).rows.first else { return nil }
        return Inputs(
            workspaceID: try row.require(String.self, "id"), org: try row.require(String.self, "org"),
            kind: try row.requireEnum(WorkspaceKind.self, "kind"),
            desiredState: try row.requireEnum(DesiredState.self, "desired_state"),
            template: try row.decode(String.self, "template"),
            templateFiles: try row.decodeJSON([String: String].self, "files"),
            targetGeneration: try row.require(Int64.self, "target_generation"),
            tokenSeed: try row.require(String.self, "token_seed"),
            stagedHash: try row.decode(String.self, "staged_hash"),
            stagedGeneration: try row.decode(Int64.self, "staged_generation"),
            secrets: try row.decodeJSON([Secret].self, "secrets") ?? [],
            bootPlugins: try row.decodeJSON([String: String].self, "boot_plugins") ?? [:])
    }

    /// How a `BundleStatus` is written: the staged record (its time moves when it changes) and
    /// the workspace's BundleStaged condition and last_error.
    public var statusColumns: StatusColumns {
        let staged = "(p.status -> 'staged')"
        return StatusColumns(
            columns: [
                .init("staged_hash", "CASE WHEN p.status ? 'staged' THEN \(staged) ->> 'hash' ELSE s.staged_hash END"),
                .init(
                    "staged_runtime_hash",
                    "CASE WHEN p.status ? 'staged' THEN \(staged) ->> 'runtimeHash' ELSE s.staged_runtime_hash END"),
                .init(
                    "staged_generation",
                    "CASE WHEN p.status ? 'staged' THEN (\(staged) ->> 'generation')::bigint ELSE s.staged_generation END"),
                .init("staged_version", "CASE WHEN p.status ? 'staged' THEN \(staged) ->> 'version' ELSE s.staged_version END"),
                .init(
                    "staged_at",
                    """
                    CASE WHEN p.status ? 'staged'
                          AND (s.staged_hash, s.staged_runtime_hash, s.staged_generation, s.staged_version)
                              IS DISTINCT FROM (\(staged) ->> 'hash', \(staged) ->> 'runtimeHash',
                                                (\(staged) ->> 'generation')::bigint, \(staged) ->> 'version')
                         THEN p.now ELSE s.staged_at END
                    """),
            ], statements: [WorkspaceStatusStatement.make(includingPhase: false)], owner: WorkspaceStatusStatement.owner)
    }
}

/// The secrets-bundle controller's status value. Field names are read by `BundleStore.statusColumns`.
public struct BundleStatus: StatusPatch, Equatable {
    public struct Staged: Encodable, Sendable, Equatable {
        public var hash: String
        public var runtimeHash: String
        public var generation: Int64
        public var version: String?

        public init(hash: String, runtimeHash: String, generation: Int64, version: String?) {
            self.hash = hash
            self.runtimeHash = runtimeHash
            self.generation = generation
            self.version = version
        }
    }

    /// What the secret store now holds; nil leaves the record as it is.
    public var staged: Staged?
    public var condition: WorkspaceCondition
    public var error: String?

    public init(staged: Staged? = nil, condition: WorkspaceCondition, error: String? = nil) {
        self.staged = staged
        self.condition = condition
        self.error = error
    }
}
