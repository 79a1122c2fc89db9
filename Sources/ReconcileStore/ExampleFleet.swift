import Logging
import Postgres
import SchemaManifests

/// Loads `manifests/example/fleet.sql` into a database that has no workspace yet (the embedded
/// default's first start), in one transaction; a database with workspaces is left alone.
public enum ExampleFleet {
    /// Returns true when it loaded the fleet.
    @discardableResult
    public static func loadIfEmpty(_ pool: PostgresPool, logger: Logger) async throws -> Bool {
        let script = try SchemaManifests.exampleFleet()
        return try await pool.transaction { connection in
            try await connection.query("LOCK TABLE workspaces IN SHARE ROW EXCLUSIVE MODE")
            let empty = try await connection.query("SELECT NOT EXISTS (SELECT 1 FROM workspaces) AS empty")
                .rows[0].require(Bool.self, "empty")
            guard empty else { return false }
            try await connection.execute(script: script)
            logger.info("loaded the example fleet from manifests/example/fleet.sql")
            return true
        }
    }
}
