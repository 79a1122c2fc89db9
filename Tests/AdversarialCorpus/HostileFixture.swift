import Postgres
import PostgresTestSupport

/// Spec rows every hostile write runs against.
public enum HostileFixture {
    public static let statements = [
        #"INSERT INTO templates (name, files) VALUES ('t', '{"config.yaml": "a: 1"}')"#,
        "INSERT INTO privileged_plugins (name, reason) VALUES ('molecule-platform-mcp', 'management MCP')",
        """
        INSERT INTO workspaces (org, name, kind, template, image) VALUES
          ('acme', 'seo', 'agent', 't', 'registry/agent:1'), ('acme', 'concierge', 'platform', 't', 'registry/platform:1')
        """,
        "INSERT INTO workspace_secrets (workspace_id, key, value) SELECT id, 'API_KEY', 'existing' FROM workspaces WHERE name = 'seo'",
        "INSERT INTO workspace_secrets (workspace_id, key, value) SELECT id, 'OTHER_KEY', 'existing' FROM workspaces WHERE name = 'seo'",
        "INSERT INTO org_secrets (org, key, value) VALUES ('acme', 'SHARED', 'existing'), ('acme', 'OTHER', 'existing')",
        #"INSERT INTO tenants (name, hostname, tunnel_id, services) VALUES ('acme', 'acme.example.com', 'tunnel-acme', '{"app": "http://127.0.0.1:3000"}')"#,
        "INSERT INTO tenants (name, hostname, tunnel_id) VALUES ('globex', 'globex.example.com', 'tunnel-globex')",
        "INSERT INTO platform_paths (pattern) VALUES ('/api/*')",
        "INSERT INTO workspace_runtime_status (workspace_id, instance_id) SELECT id, 'i-1' FROM workspaces WHERE name = 'seo'",
        "INSERT INTO events (controller, key, type, reason, message, first_seen, last_seen) SELECT 'instances', id, 'Normal', 'Test', 'm', now(), now() FROM workspaces",
    ]

    /// One database for the writes that must all fail (a write wrongly accepted fails its own
    /// test first).
    /// Shared by ~140 parameterised cases that run at once: enough sessions that none waits out the pool.
    public static let shared = Task { try await create(poolSize: 8) }

    /// A new database holding the fixture's rows; `poolSize` is the pool's connection count.
    public static func create(poolSize: Int = 2) async throws -> PostgresPool {
        let pool = try await TestDatabase.create(poolSize: poolSize)
        for statement in statements { try await pool.query(statement) }
        return pool
    }
}
