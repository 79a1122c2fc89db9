import Foundation
import Postgres
import ReconcileRuntime

/// Every statement that writes the status columns of `workspaces` (conditions, last_error),
/// fenced on the lease of the controller that writes, and skipped when nothing would change.
public struct WorkspaceStatusStore: Sendable {
    private let pool: PostgresPool

    public init(pool: PostgresPool) {
        self.pool = pool
    }

    public struct Condition: Sendable, Equatable {
        public var type: String
        /// "True" or "False".
        public var status: String
        public var reason: String
        public var message: String

        public init(type: String, status: Bool, reason: String, message: String) {
            self.type = type
            self.status = status ? "True" : "False"
            self.reason = reason
            self.message = message
        }
    }

    /// Sets one condition. With `error`, also sets `last_error` (as "<controller>: <error>") and
    /// `last_error_at`; without, clears a `last_error` this controller had set.
    public func set(_ condition: Condition, error: String?, workspaceID: String, controller: String,
                    fence: Fence, now: Date?) async throws {
        let sql = """
            UPDATE workspaces w
               SET conditions = w.conditions || jsonb_build_object($3::text, jsonb_build_object(
                       'status', $4::text, 'reason', $5::text, 'message', $6::text,
                       'lastTransitionTime', CASE WHEN w.conditions -> $3 ->> 'status' = $4
                                                  THEN w.conditions -> $3 -> 'lastTransitionTime'
                                                  ELSE to_jsonb(coalesce($9::timestamptz, now())) END)),
                   last_error = CASE WHEN $7::text IS NOT NULL THEN $8 || ': ' || $7
                                     WHEN starts_with(w.last_error, $8 || ': ') THEN NULL
                                     ELSE w.last_error END,
                   last_error_at = CASE WHEN $7::text IS NOT NULL THEN coalesce($9::timestamptz, now())
                                        WHEN starts_with(w.last_error, $8 || ': ') THEN NULL
                                        ELSE w.last_error_at END
             WHERE w.id = $1::uuid
               AND EXISTS (SELECT 1 FROM leases l WHERE l.controller = $8 AND l.key = w.id
                           AND l.holder = $2 AND l.token = $10)
               AND ($7::text IS NOT NULL
                    OR starts_with(w.last_error, $8 || ': ')
                    OR (w.conditions -> $3 ->> 'status', w.conditions -> $3 ->> 'reason', w.conditions -> $3 ->> 'message')
                       IS DISTINCT FROM ($4, $5, $6))
            """
        try await pool.query(sql, [workspaceID, fence.holder, condition.type, condition.status, condition.reason,
                                   condition.message, error, controller, now, fence.token])
    }
}
