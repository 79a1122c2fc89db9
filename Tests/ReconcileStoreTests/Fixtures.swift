import Foundation
import Postgres

/// Spec rows for store tests, inserted through plain SQL as an operator would.
enum Fixtures {
    @discardableResult
    static func workspace(
        _ pool: PostgresPool, org: String = "acme", name: String = UUID().uuidString,
        kind: String = "agent"
    ) async throws -> String {
        try await pool.query(
            """
            INSERT INTO workspaces (org, name, kind, image) VALUES ($1, $2, $3, 'registry/agent:1') RETURNING id
            """, [org, name, kind]
        ).rows[0].require(String.self, "id")
    }

    static func generations(_ pool: PostgresPool, table: String, key: String) async throws -> (desired: Int64, observed: Int64) {
        let row = try await pool.query("SELECT desired_generation, observed_generation FROM \(table) WHERE key = $1::uuid", [key])
            .rows[0]
        return (try row.require(Int64.self, "desired_generation"), try row.require(Int64.self, "observed_generation"))
    }
}

extension Date {
    static let epoch = Date(timeIntervalSince1970: 1_800_000_000)
}
