import ReconcileStore

/// The statement that writes a workspace controller's part of the `workspaces` row inside the
/// host's write-back: its condition, its `last_error` ("<controller>: <error>", cleared only by
/// the controller that set it) and, for the instances controller, `phase` and
/// `restart_pending`. Reads `condition`, `error`, `phase` and `restartPending` from the status
/// value; writes nothing when nothing changes. Every statement on `workspaces`' status columns.
public enum WorkspaceStatusStatement {
    /// The rows the statement writes, which the write-back locks first.
    public static let owner = StatusColumns.Owner(table: "workspaces", key: "id")

    public static func make(includingPhase: Bool) -> StatusColumns.Statement {
        let condition = "molecule_set_condition(w.conditions, p.status -> 'condition', p.now)"
        let error = "molecule_workspace_error(w.last_error, $1, p.status ->> 'error')"
        let phase =
            includingPhase
            ? """
            ,
                   phase = p.status ->> 'phase', restart_pending = (p.status ->> 'restartPending')::boolean
            """ : ""
        let phaseChanged =
            includingPhase
            ? """

                    OR (w.phase, w.restart_pending) IS DISTINCT FROM (p.status ->> 'phase', (p.status ->> 'restartPending')::boolean)
            """ : ""
        return StatusColumns.Statement(
            "workspace",
            """
            UPDATE workspaces w
               SET conditions = \(condition),
                   last_error = \(error),
                   last_error_at = CASE WHEN \(error) IS NULL THEN NULL
                                        WHEN \(error) IS DISTINCT FROM w.last_error THEN p.now
                                        ELSE w.last_error_at END\(phase)
              FROM patch p
             WHERE w.id = p.key AND p.status IS NOT NULL
               AND (w.conditions IS DISTINCT FROM \(condition)
                    OR w.last_error IS DISTINCT FROM \(error)\(phaseChanged))
            RETURNING w.id AS key
            """)
    }
}
