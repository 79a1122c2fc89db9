import Foundation
import Postgres
import ReconcileRuntime

/// Every statement of the instances controller: its inputs (the workspace's spec, the
/// instance generation that should run, the bundle staged for it) and the observed instance
/// and phase it records, fenced on the controller's lease.
public struct InstanceStore: Sendable {
    private let pool: PostgresPool

    public init(pool: PostgresPool) {
        self.pool = pool
    }

    public struct Inputs: Sendable {
        public var workspaceID: String
        public var kind: String
        public var desiredState: String
        public var image: String
        public var phase: String
        public var targetGeneration: Int64
        public var stagedGeneration: Int64?
        public var instanceID: String?
        public var restartPolicy: String
        public var stagedRuntimeHash: String?
        public var bootedRuntimeHash: String?
        /// The runtime's heartbeat says it is in a turn (for the instance we know).
        public var busySince: Date?
        /// The latest write to the workspace's secrets or its org's, and who wrote it.
        public var lastSecretWriteAt: Date?
        public var lastSecretWriter: String?
        public var launchedAt: Date?
        /// The runtime's latest heartbeat for the instance we know, if any.
        public var heartbeatReady: Bool?
        public var heartbeatAt: Date?
        /// Whether that heartbeat reports the management MCP server present.
        public var heartbeatMCPPresent: Bool?
        /// A platform workspace that declares a privileged plugin (the management MCP) is online
        /// only while its runtime reports the MCP present (the platform's RCA #2970 gate).
        public var requiresManagementMCP: Bool
        public var remediations: Int
        public var lastRemediationAt: Date?
    }

    public func selectInputs(workspaceID: String) async throws -> Inputs? {
        let sql = """
            SELECT w.id, w.kind, w.desired_state, w.image, w.phase, w.restart_policy,
                   i.target_generation, i.instance_id, i.booted_runtime_hash, i.launched_at,
                   i.remediations, i.last_remediation_at, r.ready AS heartbeat_ready, r.reported_at AS heartbeat_at,
                   r.management_mcp_present AS heartbeat_mcp,
                   w.kind = 'platform' AND EXISTS (
                       SELECT 1 FROM workspace_declared_plugins d JOIN privileged_plugins p ON p.name = d.plugin
                        WHERE d.workspace_id = w.id) AS requires_mcp,
                   b.staged_generation, b.staged_runtime_hash,
                   r.busy_since, last.written_at AS last_write_at, last.written_by AS last_writer
              FROM workspaces w JOIN instances i ON i.key = w.id JOIN secret_bundles b ON b.key = w.id
              LEFT JOIN workspace_runtime_status r ON r.workspace_id = w.id AND r.instance_id = i.instance_id
              LEFT JOIN LATERAL (
                    SELECT written_at, written_by FROM workspace_secrets WHERE workspace_id = w.id
                    UNION ALL
                    SELECT written_at, written_by FROM org_secrets WHERE org = w.org
                    ORDER BY written_at DESC LIMIT 1) last ON true
             WHERE w.id = $1::uuid
            """
        guard let row = try await pool.query(sql, [workspaceID]).rows.first else { return nil }
        return Inputs(workspaceID: try row.require(String.self, "id"), kind: try row.require(String.self, "kind"),
                      desiredState: try row.require(String.self, "desired_state"), image: try row.require(String.self, "image"),
                      phase: try row.require(String.self, "phase"),
                      targetGeneration: try row.require(Int64.self, "target_generation"),
                      stagedGeneration: try row.decode(Int64.self, "staged_generation"),
                      instanceID: try row.decode(String.self, "instance_id"),
                      restartPolicy: try row.require(String.self, "restart_policy"),
                      stagedRuntimeHash: try row.decode(String.self, "staged_runtime_hash"),
                      bootedRuntimeHash: try row.decode(String.self, "booted_runtime_hash"),
                      busySince: try row.decode(Date.self, "busy_since"),
                      lastSecretWriteAt: try row.decode(Date.self, "last_write_at"),
                      lastSecretWriter: try row.decode(String.self, "last_writer"),
                      launchedAt: try row.decode(Date.self, "launched_at"),
                      heartbeatReady: try row.decode(Bool.self, "heartbeat_ready"),
                      heartbeatAt: try row.decode(Date.self, "heartbeat_at"),
                      heartbeatMCPPresent: try row.decode(Bool.self, "heartbeat_mcp"),
                      requiresManagementMCP: try row.require(Bool.self, "requires_mcp"),
                      remediations: try row.require(Int.self, "remediations"),
                      lastRemediationAt: try row.decode(Date.self, "last_remediation_at"))
    }

    public struct Observed: Sendable, Equatable {
        public var instanceID: String?
        public var generation: Int64
        public var state: String?
        public var address: String?
        public var bootedRuntimeHash: String?

        public init(instanceID: String?, generation: Int64, state: String?, address: String?, bootedRuntimeHash: String?) {
            self.instanceID = instanceID
            self.generation = generation
            self.state = state
            self.address = address
            self.bootedRuntimeHash = bootedRuntimeHash
        }
    }

    /// Records the observed instance and the workspace's phase, each only if it changed.
    public func record(_ observed: Observed, phase: String, restartPending: Bool, workspaceID: String, fence: Fence,
                       now: Date?) async throws {
        let sql = """
            WITH fence AS (
                SELECT 1 FROM leases WHERE controller = 'instances' AND key = $1::uuid AND holder = $2 AND token = $3
            ), observed AS (
                UPDATE instances i
                   SET instance_id = $4, instance_generation = $5, instance_state = $6, address = $7,
                       booted_runtime_hash = $10,
                       launched_at = CASE WHEN i.instance_id IS DISTINCT FROM $4 THEN coalesce($9::timestamptz, now())
                                          ELSE i.launched_at END
                 WHERE i.key = $1::uuid AND EXISTS (SELECT 1 FROM fence)
                   AND (i.instance_id, i.instance_generation, i.instance_state, i.address, i.booted_runtime_hash)
                       IS DISTINCT FROM ($4, $5::bigint, $6, $7, $10)
                RETURNING 1
            )
            UPDATE workspaces w SET phase = $8, restart_pending = $11
             WHERE w.id = $1::uuid AND EXISTS (SELECT 1 FROM fence)
               AND (w.phase, w.restart_pending) IS DISTINCT FROM ($8, $11::boolean)
            """
        try await pool.query(sql, [workspaceID, fence.holder, fence.token, observed.instanceID, observed.generation,
                                   observed.state, observed.address, phase, now, observed.bootedRuntimeHash, restartPending])
    }

    /// Workspaces that should run, and how many of them are failed (for the circuit breaker).
    public func selectFleetHealth() async throws -> (failing: Int, total: Int) {
        let row = try await pool.query("""
            SELECT count(*) AS total, count(*) FILTER (WHERE phase = 'failed') AS failing
              FROM workspaces WHERE desired_state = 'running'
            """).rows[0]
        return (try row.require(Int.self, "failing"), try row.require(Int.self, "total"))
    }

    /// Counts a remediation (a restart asked for a failed workspace), or resets the count once
    /// the workspace is healthy; only if it changes and the lease is ours.
    public func recordRemediations(_ count: Int, at time: Date?, workspaceID: String, fence: Fence) async throws {
        let sql = """
            UPDATE instances i SET remediations = $2,
                   last_remediation_at = CASE WHEN $2 = 0 THEN NULL ELSE coalesce($5::timestamptz, now()) END
             WHERE i.key = $1::uuid AND i.remediations <> $2
               AND EXISTS (SELECT 1 FROM leases l WHERE l.controller = 'instances' AND l.key = i.key
                           AND l.holder = $3 AND l.token = $4)
            """
        try await pool.query(sql, [workspaceID, count, fence.holder, fence.token, time])
    }

    /// Asks for a new instance generation (a restart), if the target is still `expected` and
    /// the lease ours. The bundle controller then stages the new generation's bundle.
    public func requestRestart(workspaceID: String, expected: Int64, fence: Fence) async throws {
        let sql = """
            UPDATE instances i SET target_generation = i.target_generation + 1
             WHERE i.key = $1::uuid AND i.target_generation = $2
               AND EXISTS (SELECT 1 FROM leases l WHERE l.controller = 'instances' AND l.key = i.key
                           AND l.holder = $3 AND l.token = $4)
            """
        try await pool.query(sql, [workspaceID, expected, fence.holder, fence.token])
    }

    /// Of these workspace IDs, the ones that still have a workspace row (an instance of any
    /// other is an orphan).
    public func selectExistingWorkspaces(among ids: [String]) async throws -> Set<String> {
        guard !ids.isEmpty else { return [] }
        let rows = try await pool.query("SELECT id FROM workspaces WHERE id = ANY($1::uuid[])", [ids]).rows
        return Set(try rows.map { try $0.require(String.self, "id") })
    }
}

/// Names the database a reconciler serves, for tagging what it launches: the cluster's system
/// identifier and the database's OID, which differ for every database (a copy made from a
/// template included) and need no table of their own.
public enum DatabaseIdentity {
    public static func owner(_ pool: PostgresPool) async throws -> String {
        let sql = """
            SELECT 'pg:' || (SELECT system_identifier FROM pg_control_system())::text || ':' || d.oid::text AS owner
              FROM pg_database d WHERE d.datname = current_database()
            """
        return try await pool.query(sql).rows[0].require(String.self, "owner")
    }
}
