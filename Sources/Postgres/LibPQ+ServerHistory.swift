extension LibPQ {
    /// Reads a new session's server history and records it. A server that refuses the query
    /// (a role without the functions, a pooler) leaves the history unknown and the session
    /// usable; a lost or timed-out session throws.
    static func readHistory(_ handle: OpaquePointer, into watch: ServerHistoryWatch, timeout: Duration) throws {
        let row: PostgresRow
        do {
            row = try execute(handle, ServerHistory.query, [], timeout: timeout).rows[0]
        } catch let error as PostgresError where !error.isConnectionLevel {
            watch.unavailable("\(error)")
            return
        }
        watch.observe(
            ServerHistory(
                systemIdentifier: try row.require(String.self, "system_id"),
                timeline: try row.require(Int.self, "timeline")))
    }
}
