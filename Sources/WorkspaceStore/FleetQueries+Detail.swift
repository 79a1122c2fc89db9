import Foundation
import Postgres

/// `describe workspace`: everything the database knows of one workspace, read in one pass.
extension FleetQueries {
    public struct Condition: Sendable, Codable, Equatable {
        public var type: String
        public var status: String?
        public var reason: String?
        public var message: String?
        public var lastTransitionTime: String?
    }

    public struct InstanceRow: Sendable, Codable, Equatable {
        public var instanceID: String?
        public var instanceGeneration: Int64
        public var instanceState: String?
        public var address: String?
        public var launchedAt: Date?
        /// The instance generation that should run.
        public var targetGeneration: Int64
        public var unresponsiveSince: Date?
        public var remediations: Int
        public var lastRemediationAt: Date?
    }

    public struct BundleRow: Sendable, Codable, Equatable {
        /// The secret store's version id; the bundle's value is never read here.
        public var stagedVersion: String?
        public var stagedGeneration: Int64?
        public var stagedAt: Date?
    }

    public struct HeartbeatRow: Sendable, Codable, Equatable {
        public var instanceID: String
        public var ready: Bool
        public var busySince: Date?
        public var managementMCPPresent: Bool
        public var reportedAt: Date
    }

    /// One controller's bookkeeping for the workspace, and its lease.
    public struct ControllerRow: Sendable, Codable, Equatable {
        public var controller: String
        public var desiredGeneration: Int64
        public var observedGeneration: Int64
        public var attempts: Int
        /// `distantFuture`: not retried until its input changes (a terminal failure).
        public var nextAttemptAt: Date?
        public var lastError: String?
        public var lastErrorAt: Date?
        public var leaseHolder: String?
        public var leaseExpiresAt: Date?
        /// Whether the lease is held now (by the database clock).
        public var leaseHeld: Bool
    }

    public struct WorkspaceDetail: Sendable, Codable, Equatable {
        public var workspace: WorkspaceRow
        public var restartRequests: Int64
        public var restartPolicy: String
        public var updatedAt: Date
        public var lastErrorAt: Date?
        public var conditions: [Condition]
        public var instance: InstanceRow?
        public var bundle: BundleRow?
        public var heartbeat: HeartbeatRow?
        public var plugins: [PluginRow]
        public var controllers: [ControllerRow]
        public var events: [EventRow]
        /// The database's clock when this was read.
        public var now: Date
    }

    public func selectDetail(_ reference: WorkspaceReference, events: Int = 20) async throws -> WorkspaceDetail? {
        guard let workspace = try await selectWorkspace(reference) else { return nil }
        let sql = """
            SELECT now() AS now, w.restart_requests, w.restart_policy, w.updated_at, w.last_error_at,
                   CASE WHEN jsonb_typeof(w.conditions) = 'object' THEN w.conditions ELSE '{}' END::text AS conditions,
                   i.key IS NOT NULL AS has_instance, i.instance_id, i.instance_generation, i.instance_state, i.address,
                   i.launched_at, i.target_generation, i.unresponsive_since, i.remediations, i.last_remediation_at,
                   b.key IS NOT NULL AS has_bundle, b.staged_version, b.staged_generation, b.staged_at,
                   r.instance_id AS heartbeat_instance, r.ready, r.busy_since, r.management_mcp_present, r.reported_at
              FROM workspaces w
              LEFT JOIN instances i ON i.key = w.id
              LEFT JOIN secret_bundles b ON b.key = w.id
              LEFT JOIN workspace_runtime_status r ON r.workspace_id = w.id
             WHERE w.id = $1::uuid
            """
        guard let row = try await pool.query(sql, [workspace.id]).rows.first else { return nil }
        return WorkspaceDetail(
            workspace: workspace, restartRequests: try row.require(Int64.self, "restart_requests"),
            restartPolicy: try row.require(String.self, "restart_policy"), updatedAt: try row.require(Date.self, "updated_at"),
            lastErrorAt: try row.decode(Date.self, "last_error_at"),
            conditions: try Self.conditions(row.require(String.self, "conditions")),
            instance: try row.require(Bool.self, "has_instance") ? try Self.instance(row) : nil,
            bundle: try row.require(Bool.self, "has_bundle")
                ? BundleRow(
                    stagedVersion: try row.decode(String.self, "staged_version"),
                    stagedGeneration: try row.decode(Int64.self, "staged_generation"),
                    stagedAt: try row.decode(Date.self, "staged_at")) : nil,
            heartbeat: try Self.heartbeat(row),
            plugins: try await selectPlugins(org: workspace.org).filter { $0.workspace == workspace.name },
            controllers: try await selectControllers(workspaceID: workspace.id),
            events: try await selectEvents(key: workspace.id, limit: events), now: try row.require(Date.self, "now"))
    }

    /// The workspace controllers' rows for one workspace, with their leases.
    public func selectControllers(workspaceID: String) async throws -> [ControllerRow] {
        let sql = """
            SELECT c.controller, c.desired_generation, c.observed_generation, c.attempts, c.next_attempt_at,
                   c.last_error, c.last_error_at, l.holder, l.expires_at,
                   coalesce(l.holder IS NOT NULL AND l.expires_at > now(), false) AS held
              FROM (SELECT 'secret_bundles' AS controller, key, desired_generation, observed_generation, attempts,
                           next_attempt_at, last_error, last_error_at FROM secret_bundles WHERE key = $1::uuid
                    UNION ALL
                    SELECT 'instances', key, desired_generation, observed_generation, attempts,
                           next_attempt_at, last_error, last_error_at FROM instances WHERE key = $1::uuid
                    UNION ALL
                    SELECT 'plugin_installs', key, desired_generation, observed_generation, attempts,
                           next_attempt_at, last_error, last_error_at FROM plugin_installs WHERE key = $1::uuid) c
              LEFT JOIN leases l ON l.controller = c.controller AND l.key = c.key
            """
        return try await pool.query(sql, [workspaceID]).rows.map { row in
            ControllerRow(
                controller: try row.require(String.self, "controller"),
                desiredGeneration: try row.require(Int64.self, "desired_generation"),
                observedGeneration: try row.require(Int64.self, "observed_generation"),
                attempts: try row.require(Int.self, "attempts"), nextAttemptAt: try row.decode(Date.self, "next_attempt_at"),
                lastError: try row.decode(String.self, "last_error"), lastErrorAt: try row.decode(Date.self, "last_error_at"),
                leaseHolder: try row.decode(String.self, "holder"), leaseExpiresAt: try row.decode(Date.self, "expires_at"),
                leaseHeld: try row.require(Bool.self, "held"))
        }
    }

    private static func conditions(_ text: String) throws -> [Condition] {
        let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] ?? [:]
        // Ready first, then the others by name, as `kubectl describe` lists them.
        return object.keys.sorted { ($0 == "Ready" ? "" : $0) < ($1 == "Ready" ? "" : $1) }.map { type in
            let value = object[type] as? [String: Any] ?? [:]
            return Condition(
                type: type, status: value["status"] as? String, reason: value["reason"] as? String,
                message: value["message"] as? String, lastTransitionTime: value["lastTransitionTime"] as? String)
        }
    }

    private static func instance(_ row: PostgresRow) throws -> InstanceRow {
        InstanceRow(
            instanceID: try row.decode(String.self, "instance_id"),
            instanceGeneration: try row.require(Int64.self, "instance_generation"),
            instanceState: try row.decode(String.self, "instance_state"), address: try row.decode(String.self, "address"),
            launchedAt: try row.decode(Date.self, "launched_at"),
            targetGeneration: try row.require(Int64.self, "target_generation"),
            unresponsiveSince: try row.decode(Date.self, "unresponsive_since"),
            remediations: try row.require(Int.self, "remediations"),
            lastRemediationAt: try row.decode(Date.self, "last_remediation_at"))
    }

    private static func heartbeat(_ row: PostgresRow) throws -> HeartbeatRow? {
        guard let instanceID = try row.decode(String.self, "heartbeat_instance") else { return nil }
        return HeartbeatRow(
            instanceID: instanceID, ready: try row.require(Bool.self, "ready"),
            busySince: try row.decode(Date.self, "busy_since"),
            managementMCPPresent: try row.require(Bool.self, "management_mcp_present"),
            reportedAt: try row.require(Date.self, "reported_at"))
    }
}
