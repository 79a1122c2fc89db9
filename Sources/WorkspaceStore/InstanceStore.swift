import Foundation
import Postgres
import ReconcileRuntime
import ReconcileStore
import WorkspaceModel

/// Every statement of the instances controller: its inputs (the workspace's spec, the
/// instance generation that should run, the bundle staged for it, the heartbeat), the fleet's
/// health for the circuit breaker, and how its status value is written.
public struct InstanceStore: Sendable, StatusWriter, KeySubjects {
    private let pool: PostgresPool

    public init(pool: PostgresPool) {
        self.pool = pool
    }

    /// The facts, and the database's clock (or `now`) to judge them by: heartbeats, writes and
    /// launches carry database timestamps, so they are never compared with a replica's own
    /// clock. nil when the workspace no longer exists.
    public func selectFacts(workspaceID: String, now: Date?) async throws -> (facts: InstanceFacts, now: Date)? {
        let sql = """
            SELECT coalesce($2::timestamptz, now()) AS now,
                   CASE WHEN b.next_attempt_at = 'infinity' THEN b.last_error END AS bundle_failure,
                   w.id, w.kind, w.desired_state, w.image, w.phase, w.restart_policy,
                   i.target_generation, i.instance_id, i.instance_generation, i.instance_state, i.address, i.booted_runtime_hash, i.launched_at, i.unresponsive_since,
                   i.remediations, i.last_remediation_at, r.ready AS heartbeat_ready, r.reported_at AS heartbeat_at,
                   r.management_mcp_present AS heartbeat_mcp, r.busy_since,
                   w.kind = 'platform' AND EXISTS (
                       SELECT 1 FROM workspace_declared_plugins d JOIN privileged_plugins p ON p.name = d.plugin
                        WHERE d.workspace_id = w.id) AS requires_mcp,
                   b.staged_generation, b.staged_runtime_hash, b.staged_version,
                   last.written_at AS last_write_at, last.written_by AS last_writer
              FROM workspaces w JOIN instances i ON i.key = w.id JOIN secret_bundles b ON b.key = w.id
              LEFT JOIN workspace_runtime_status r ON r.workspace_id = w.id AND r.instance_id = i.instance_id
              LEFT JOIN LATERAL (
                    SELECT written_at, written_by FROM workspace_secrets WHERE workspace_id = w.id
                    UNION ALL
                    SELECT written_at, written_by FROM org_secrets WHERE org = w.org
                    ORDER BY written_at DESC LIMIT 1) last ON true
             WHERE w.id = $1::uuid
            """
        guard let row = try await pool.query(sql, [workspaceID, now]).rows.first else { return nil }
        var heartbeat: InstanceHealth.Heartbeat?
        if let ready = try row.decode(Bool.self, "heartbeat_ready"), let at = try row.decode(Date.self, "heartbeat_at") {
            heartbeat = .init(
                ready: ready, reportedAt: at, managementMCPPresent: try row.decode(Bool.self, "heartbeat_mcp") ?? false,
                busySince: try row.decode(Date.self, "busy_since"))
        }
        var facts = InstanceFacts(
            workspaceID: try row.require(String.self, "id"), kind: try row.requireEnum(WorkspaceKind.self, "kind"),
            desiredState: try row.requireEnum(DesiredState.self, "desired_state"), image: try row.require(String.self, "image"),
            phase: try row.requireEnum(Phase.self, "phase"),
            restartPolicy: try row.requireEnum(RestartPolicy.self, "restart_policy"),
            targetGeneration: try row.require(Int64.self, "target_generation"),
            stagedGeneration: try row.decode(Int64.self, "staged_generation"),
            stagedRuntimeHash: try row.decode(String.self, "staged_runtime_hash"),
            bootedRuntimeHash: try row.decode(String.self, "booted_runtime_hash"),
            instanceID: try row.decode(String.self, "instance_id"), launchedAt: try row.decode(Date.self, "launched_at"),
            unresponsiveSince: try row.decode(Date.self, "unresponsive_since"), heartbeat: heartbeat,
            lastSecretWriteAt: try row.decode(Date.self, "last_write_at"),
            lastSecretWriter: try row.decode(String.self, "last_writer"),
            requiresManagementMCP: try row.require(Bool.self, "requires_mcp"),
            remediations: try row.require(Int.self, "remediations"),
            lastRemediationAt: try row.decode(Date.self, "last_remediation_at"))
        facts.instanceGeneration = try row.require(Int64.self, "instance_generation")
        facts.instanceState = try row.decode(String.self, "instance_state")
        facts.address = try row.decode(String.self, "address")
        facts.bundleFailure = try row.decode(String.self, "bundle_failure")
        facts.stagedVersion = try row.decode(String.self, "staged_version")
        return (facts, try row.require(Date.self, "now"))
    }

    /// Workspaces that should run, and how many of them are failed (for the circuit breaker).
    public func selectFleetHealth() async throws -> Remediation.FleetHealth {
        let row = try await pool.query(
            """
            SELECT count(*) AS total, count(*) FILTER (WHERE phase = 'failed') AS failing
              FROM workspaces WHERE desired_state = 'running'
            """
        ).rows[0]
        return .init(failing: try row.require(Int.self, "failing"), total: try row.require(Int.self, "total"))
    }

    /// Workspaces per phase (for the metrics gauges): one scan of `workspaces`.
    public func selectPhaseCounts() async throws -> [Phase: Int] {
        let rows = try await pool.query("SELECT phase, count(*) AS n FROM workspaces GROUP BY phase").rows
        var counts: [Phase: Int] = [:]
        for row in rows {
            guard let phase = Phase(rawValue: try row.require(String.self, "phase")) else { continue }
            counts[phase] = try row.require(Int.self, "n")
        }
        return counts
    }

    /// Each workspace's org and name, for log lines (`KeySubjects`).
    public func subjects(of keys: [String]) async throws -> [String: [String: String]] {
        guard !keys.isEmpty else { return [:] }
        let rows = try await pool.query("SELECT id, org, name FROM workspaces WHERE id = ANY($1::uuid[])", [keys]).rows
        var subjects: [String: [String: String]] = [:]
        for row in rows {
            subjects[try row.require(String.self, "id")] = [
                "workspace.org": try row.require(String.self, "org"), "workspace.name": try row.require(String.self, "name"),
            ]
        }
        return subjects
    }

    /// Of these workspace IDs, the ones that still have a workspace row (an instance of any
    /// other is an orphan).
    public func selectExistingWorkspaces(among ids: [String]) async throws -> Set<String> {
        guard !ids.isEmpty else { return [] }
        let rows = try await pool.query("SELECT id FROM workspaces WHERE id = ANY($1::uuid[])", [ids]).rows
        return Set(try rows.map { try $0.require(String.self, "id") })
    }

    /// What a workspace still wants of its ended instances: its desired state and the
    /// generation that should run (nil before the instances row exists).
    public struct Wanted: Sendable, Equatable {
        public var desiredState: DesiredState
        public var targetGeneration: Int64?

        public init(desiredState: DesiredState, targetGeneration: Int64?) {
            self.desiredState = desiredState
            self.targetGeneration = targetGeneration
        }
    }

    /// Of these workspace IDs, each existing one's `Wanted` (an ID missing from the answer has
    /// no workspace row).
    public func selectWanted(among ids: [String]) async throws -> [String: Wanted] {
        guard !ids.isEmpty else { return [:] }
        let rows = try await pool.query(
            """
            SELECT w.id, w.desired_state, i.target_generation
              FROM workspaces w LEFT JOIN instances i ON i.key = w.id
             WHERE w.id = ANY($1::uuid[])
            """, [ids]
        ).rows
        var wanted: [String: Wanted] = [:]
        for row in rows {
            wanted[try row.require(String.self, "id")] = Wanted(
                desiredState: try row.requireEnum(DesiredState.self, "desired_state"),
                targetGeneration: try row.decode(Int64.self, "target_generation"))
        }
        return wanted
    }

    /// How an `InstanceStatus` is written: the observed instance (`launched_at` moves when the
    /// instance changes), the remediation count, a new target generation when asked for and
    /// still current, and the workspace's phase, restart_pending, InstanceReady and last_error.
    public var statusColumns: StatusColumns {
        StatusColumns(
            columns: [
                .init("instance_id", "p.status ->> 'instanceID'"),
                .init("instance_generation", "(p.status ->> 'instanceGeneration')::bigint"),
                .init("instance_state", "p.status ->> 'instanceState'"),
                .init("address", "p.status ->> 'address'"),
                .init("booted_runtime_hash", "p.status ->> 'bootedRuntimeHash'"),
                .init(
                    "launched_at",
                    """
                    CASE WHEN s.instance_id IS DISTINCT FROM p.status ->> 'instanceID'
                         THEN CASE WHEN p.status ? 'instanceID' THEN p.now END ELSE s.launched_at END
                    """),
                .init("unresponsive_since", "to_timestamp((p.status ->> 'unresponsiveSince')::float8)"),
                .init("remediations", "(p.status ->> 'remediations')::integer"),
                .init(
                    "last_remediation_at",
                    """
                    CASE WHEN (p.status ->> 'remediations')::integer = 0 THEN NULL
                         WHEN (p.status ->> 'remediations')::integer <> s.remediations THEN p.now
                         ELSE s.last_remediation_at END
                    """),
                .init(
                    "target_generation",
                    """
                    CASE WHEN (p.status ->> 'restartFrom')::bigint = s.target_generation
                              AND s.target_generation < 9223372036854775807 THEN s.target_generation + 1
                         ELSE s.target_generation END
                    """),
            ], statements: [WorkspaceStatusStatement.make(includingPhase: true)], owner: WorkspaceStatusStatement.owner)
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

extension InstanceStatus: StatusPatch {}
