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
    }

    public func selectInputs(workspaceID: String) async throws -> Inputs? {
        let sql = """
            SELECT w.id, w.kind, w.desired_state, w.image, w.phase, i.target_generation, i.instance_id, b.staged_generation
              FROM workspaces w JOIN instances i ON i.key = w.id JOIN secret_bundles b ON b.key = w.id
             WHERE w.id = $1::uuid
            """
        guard let row = try await pool.query(sql, [workspaceID]).rows.first else { return nil }
        return Inputs(workspaceID: try row.require(String.self, "id"), kind: try row.require(String.self, "kind"),
                      desiredState: try row.require(String.self, "desired_state"), image: try row.require(String.self, "image"),
                      phase: try row.require(String.self, "phase"),
                      targetGeneration: try row.require(Int64.self, "target_generation"),
                      stagedGeneration: try row.decode(Int64.self, "staged_generation"),
                      instanceID: try row.decode(String.self, "instance_id"))
    }

    public struct Observed: Sendable, Equatable {
        public var instanceID: String?
        public var generation: Int64
        public var state: String?
        public var address: String?

        public init(instanceID: String?, generation: Int64, state: String?, address: String?) {
            self.instanceID = instanceID
            self.generation = generation
            self.state = state
            self.address = address
        }
    }

    /// Records the observed instance and the workspace's phase, each only if it changed.
    public func record(_ observed: Observed, phase: String, workspaceID: String, fence: Fence, now: Date?) async throws {
        let sql = """
            WITH fence AS (
                SELECT 1 FROM leases WHERE controller = 'instances' AND key = $1::uuid AND holder = $2 AND token = $3
            ), observed AS (
                UPDATE instances i
                   SET instance_id = $4, instance_generation = $5, instance_state = $6, address = $7,
                       launched_at = CASE WHEN i.instance_id IS DISTINCT FROM $4 THEN coalesce($9::timestamptz, now())
                                          ELSE i.launched_at END
                 WHERE i.key = $1::uuid AND EXISTS (SELECT 1 FROM fence)
                   AND (i.instance_id, i.instance_generation, i.instance_state, i.address)
                       IS DISTINCT FROM ($4, $5::bigint, $6, $7)
                RETURNING 1
            )
            UPDATE workspaces w SET phase = $8
             WHERE w.id = $1::uuid AND EXISTS (SELECT 1 FROM fence) AND w.phase IS DISTINCT FROM $8
            """
        try await pool.query(sql, [workspaceID, fence.holder, fence.token, observed.instanceID, observed.generation,
                                   observed.state, observed.address, phase, now])
    }
}
