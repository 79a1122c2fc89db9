import Foundation

/// The malformed and hostile writes the schema must refuse, one or more per column of every spec
/// table, each naming the column it must be refused for. They run against `HostileFixture`'s rows
/// (the workspace `seo`, the template `t`, the tenants `acme` and `globex`...).
public enum AdversarialCorpus {
    static let long = String(repeating: "x", count: 10_000)
    static let newlineForged = "seo\n2026-01-01T00:00:00+0000 error molecule-reconciler : forged line"

    public static let writes: [HostileWrite] = [
        // workspaces
        .init("workspaces.org", "NULL", "INSERT INTO workspaces (org, name, image) VALUES ($1, 'n', 'img')", nil),
        .init("workspaces.org", "empty", "INSERT INTO workspaces (org, name, image) VALUES ($1, 'n', 'img')", ""),
        .init("workspaces.org", "a tab", "INSERT INTO workspaces (org, name, image) VALUES ($1, 'n', 'img')", "\t"),
        .init(
            "workspaces.org", "a Cyrillic а that looks like acme",
            "INSERT INTO workspaces (org, name, image) VALUES ($1, 'n', 'img')", "\u{430}cme"),
        .init(
            "workspaces.org", "SQL in the name", "INSERT INTO workspaces (org, name, image) VALUES ($1, 'n', 'img')",
            "acme'; DROP TABLE workspaces; --"),
        .init(
            "workspaces.org", "spaces and capitals", "INSERT INTO workspaces (org, name, image) VALUES ($1, 'n', 'img')",
            "Acme Corp"),
        .init("workspaces.name", "NULL", "INSERT INTO workspaces (org, name, image) VALUES ('acme', $1, 'img')", nil),
        .init("workspaces.name", "empty", "INSERT INTO workspaces (org, name, image) VALUES ('acme', $1, 'img')", ""),
        .init(
            "workspaces.name", "tab and newline only", "INSERT INTO workspaces (org, name, image) VALUES ('acme', $1, 'img')",
            " \t\n"),
        .init(
            "workspaces.name", "NBSP only", "INSERT INTO workspaces (org, name, image) VALUES ('acme', $1, 'img')", "\u{A0}\u{A0}"
        ),
        .init(
            "workspaces.name", "ideographic space only", "INSERT INTO workspaces (org, name, image) VALUES ('acme', $1, 'img')",
            "\u{3000}"),
        .init(
            "workspaces.name", "zero-width space only", "INSERT INTO workspaces (org, name, image) VALUES ('acme', $1, 'img')",
            "\u{200B}"),
        .init(
            "workspaces.name", "a newline forging a log line",
            "INSERT INTO workspaces (org, name, image) VALUES ('acme', $1, 'img')", newlineForged),
        .init(
            "workspaces.name", "an ANSI escape", "INSERT INTO workspaces (org, name, image) VALUES ('acme', $1, 'img')",
            "seo\u{1B}[2J"),
        .init(
            "workspaces.name", "a right-to-left override", "INSERT INTO workspaces (org, name, image) VALUES ('acme', $1, 'img')",
            "seo\u{202E}gnp.exe"),
        .init(
            "workspaces.name", "a leading space", "INSERT INTO workspaces (org, name, image) VALUES ('acme', $1, 'img')", " seo"),
        .init(
            "workspaces.name", "10,000 characters", "INSERT INTO workspaces (org, name, image) VALUES ('acme', $1, 'img')", long),
        .init(
            "workspaces.name", "taken in the org", "INSERT INTO workspaces (org, name, image) VALUES ('acme', $1, 'img')", "seo"),
        .init("workspaces.image", "blank", "INSERT INTO workspaces (org, name, image) VALUES ('acme', 'n', $1)", "  "),
        .init(
            "workspaces.image", "an option smuggled after a space",
            "INSERT INTO workspaces (org, name, image) VALUES ('acme', 'n', $1)", "registry/agent:1 --privileged"),
        .init("workspaces.image", "DEL", "INSERT INTO workspaces (org, name, image) VALUES ('acme', 'n', $1)", "img\u{7F}"),
        .init(
            "workspaces.image", "10,000 characters", "INSERT INTO workspaces (org, name, image) VALUES ('acme', 'n', $1)", long),
        .init(
            "workspaces.kind", "unknown", "INSERT INTO workspaces (org, name, image, kind) VALUES ('acme', 'n', 'img', $1)",
            "robot"),
        .init("workspaces.kind", "NULL", "INSERT INTO workspaces (org, name, image, kind) VALUES ('acme', 'n', 'img', $1)", nil),
        .init(
            "workspaces.desired_state", "a newline",
            "INSERT INTO workspaces (org, name, image, desired_state) VALUES ('acme', 'n', 'img', $1)", "running\n"),
        .init(
            "workspaces.restart_policy", "unknown",
            "INSERT INTO workspaces (org, name, image, restart_policy) VALUES ('acme', 'n', 'img', $1)", "always"),
        .init(
            "workspaces.template", "a path",
            "INSERT INTO workspaces (org, name, image, template) VALUES ('acme', 'n', 'img', $1)", "../etc"),
        .init(
            "workspaces.restart_requests", "negative",
            "INSERT INTO workspaces (org, name, image, restart_requests) VALUES ('acme', 'n', 'img', $1::bigint)", "-1"),
        .init(
            "workspaces.restart_requests", "moved back", "UPDATE workspaces SET restart_requests = $1::bigint WHERE name = 'seo'",
            "-5"),
        .init("workspaces.conditions", "a JSON array", "UPDATE workspaces SET conditions = $1::jsonb WHERE name = 'seo'", "[]"),
        .init("workspaces.conditions", "JSON null", "UPDATE workspaces SET conditions = $1::jsonb WHERE name = 'seo'", "null"),
        .init(
            "workspaces.conditions", "a JSON string",
            "INSERT INTO workspaces (org, name, image, conditions) VALUES ('acme', 'n', 'img', $1::jsonb)", #""Ready""#),
        .init("workspaces.phase", "unknown", "UPDATE workspaces SET phase = $1 WHERE name = 'seo'", "hacked"),

        // templates
        .init("templates.name", "not a slug", "INSERT INTO templates (name) VALUES ($1)", "Seo Agent"),
        .init("templates.name", "empty", "INSERT INTO templates (name) VALUES ($1)", ""),
        .init("templates.name", "10,000 characters", "INSERT INTO templates (name) VALUES ($1)", long),
        .init("templates.name", "taken", "INSERT INTO templates (name) VALUES ($1)", "t"),
        .init("templates.files", "NULL", "INSERT INTO templates (name, files) VALUES ('n', $1::jsonb)", nil),
        .init("templates.files", "a JSON array", "INSERT INTO templates (name, files) VALUES ('n', $1::jsonb)", "[]"),
        .init(
            "templates.files", "a JSON string", "INSERT INTO templates (name, files) VALUES ('n', $1::jsonb)", #""config.yaml""#),
        .init(
            "templates.files", "a number as content", "INSERT INTO templates (name, files) VALUES ('n', $1::jsonb)",
            #"{"config.yaml": 42}"#),
        .init(
            "templates.files", "JSON null as content", "UPDATE templates SET files = $1::jsonb WHERE name = 't'",
            #"{"config.yaml": null}"#),
        .init(
            "templates.files", "a traversal", "INSERT INTO templates (name, files) VALUES ('n', $1::jsonb)",
            #"{"../../etc/passwd": "x"}"#),
        .init(
            "templates.files", "a traversal under prompts", "INSERT INTO templates (name, files) VALUES ('n', $1::jsonb)",
            #"{"prompts/../../x": "x"}"#),
        .init(
            "templates.files", "an absolute path", "INSERT INTO templates (name, files) VALUES ('n', $1::jsonb)",
            #"{"/etc/cron.d/x": "x"}"#),
        .init(
            "templates.files", "a file outside config.yaml and prompts",
            "INSERT INTO templates (name, files) VALUES ('n', $1::jsonb)", #"{".env": "x"}"#),
        .init(
            "templates.files", "backslashes", "INSERT INTO templates (name, files) VALUES ('n', $1::jsonb)",
            #"{"prompts\\..\\..\\x": "x"}"#),
        .init(
            "templates.files", "a newline in a path", "INSERT INTO templates (name, files) VALUES ('n', $1::jsonb)",
            #"{"prompts/a\nb.md": "x"}"#),
        .init(
            "templates.files", "an empty segment", "INSERT INTO templates (name, files) VALUES ('n', $1::jsonb)",
            #"{"prompts//x": "x"}"#),
        .init(
            "templates.files", "a file over 256 KiB",
            "INSERT INTO templates (name, files) VALUES ('n', jsonb_build_object('prompts/big.md', repeat('x', 300000 + length($1))))",
            ""),

        // workspace_secrets
        .init(
            "workspace_secrets.workspace_id", "unknown",
            "INSERT INTO workspace_secrets (workspace_id, key, value) VALUES ($1::uuid, 'K', 'v')", UUID().uuidString),
        .init(
            "workspace_secrets.workspace_id", "NULL",
            "INSERT INTO workspace_secrets (workspace_id, key, value) VALUES ($1::uuid, 'K', 'v')", nil),
        .init(
            "workspace_secrets.key", "starts with a digit",
            "INSERT INTO workspace_secrets (workspace_id, key, value) SELECT id, $1, 'v' FROM workspaces WHERE name = 'seo'",
            "1BAD"),
        .init(
            "workspace_secrets.key", "a space",
            "INSERT INTO workspace_secrets (workspace_id, key, value) SELECT id, $1, 'v' FROM workspaces WHERE name = 'seo'",
            "API KEY"),
        .init(
            "workspace_secrets.key", "a Greek Alpha that looks like A",
            "INSERT INTO workspace_secrets (workspace_id, key, value) SELECT id, $1, 'v' FROM workspaces WHERE name = 'seo'",
            "\u{391}PI_KEY"),
        .init(
            "workspace_secrets.key", "SQL",
            "INSERT INTO workspace_secrets (workspace_id, key, value) SELECT id, $1, 'v' FROM workspaces WHERE name = 'seo'",
            "K'); DROP TABLE workspace_secrets; --"),
        .init(
            "workspace_secrets.key", "already set (plain INSERT)",
            "INSERT INTO workspace_secrets (workspace_id, key, value) SELECT id, $1, 'v' FROM workspaces WHERE name = 'seo'",
            "API_KEY"),
        .init(
            "workspace_secrets.value", "NULL",
            "INSERT INTO workspace_secrets (workspace_id, key, value) SELECT id, 'K', $1 FROM workspaces WHERE name = 'seo'", nil),
        .init(
            "workspace_secrets.value", "over 64 KiB",
            "INSERT INTO workspace_secrets (workspace_id, key, value) SELECT id, 'K', repeat($1, 70000) FROM workspaces WHERE name = 'seo'",
            "s"),
        .init(
            "workspace_secrets.written_by", "someone",
            "INSERT INTO workspace_secrets (workspace_id, key, value, written_by) SELECT id, 'K', 'v', $1 FROM workspaces WHERE name = 'seo'",
            "someone"),
        .init(
            "workspace_secrets.runtime_consumed", "NULL",
            "INSERT INTO workspace_secrets (workspace_id, key, value, runtime_consumed) SELECT id, 'K', 'v', $1::boolean FROM workspaces WHERE name = 'seo'",
            nil),

        // org_secrets
        .init("org_secrets.org", "NULL", "INSERT INTO org_secrets (org, key, value) VALUES ($1, 'K', 'v')", nil),
        .init(
            "org_secrets.org", "whitespace only", "INSERT INTO org_secrets (org, key, value) VALUES ($1, 'K', 'v')", " \u{2003}"),
        .init("org_secrets.org", "not a slug", "INSERT INTO org_secrets (org, key, value) VALUES ($1, 'K', 'v')", "Acme Corp"),
        .init("org_secrets.key", "empty", "INSERT INTO org_secrets (org, key, value) VALUES ('acme', $1, 'v')", ""),
        .init(
            "org_secrets.key", "already set (plain INSERT)", "INSERT INTO org_secrets (org, key, value) VALUES ('acme', $1, 'v')",
            "SHARED"),
        .init("org_secrets.value", "NULL", "INSERT INTO org_secrets (org, key, value) VALUES ('acme', 'K', $1)", nil),
        .init(
            "org_secrets.written_by", "NULL",
            "INSERT INTO org_secrets (org, key, value, written_by) VALUES ('acme', 'K', 'v', $1)", nil),
        .init(
            "org_secrets.written_at", "NULL",
            "INSERT INTO org_secrets (org, key, value, written_at) VALUES ('acme', 'K', 'v', $1::timestamptz)", nil),

        // workspace_declared_plugins
        .init(
            "workspace_declared_plugins.workspace_id", "unknown",
            "INSERT INTO workspace_declared_plugins (workspace_id, plugin, ref) VALUES ($1::uuid, 'web-search', '1')",
            UUID().uuidString),
        .init(
            "workspace_declared_plugins.plugin", "capitals and a space",
            "INSERT INTO workspace_declared_plugins (workspace_id, plugin, ref) SELECT id, $1, '1' FROM workspaces WHERE name = 'seo'",
            "Web Search"),
        .init(
            "workspace_declared_plugins.plugin", "a traversal",
            "INSERT INTO workspace_declared_plugins (workspace_id, plugin, ref) SELECT id, $1, '1' FROM workspaces WHERE name = 'seo'",
            "../evil"),
        .init(
            "workspace_declared_plugins.plugin", "10,000 characters",
            "INSERT INTO workspace_declared_plugins (workspace_id, plugin, ref) SELECT id, $1, '1' FROM workspaces WHERE name = 'seo'",
            long),
        .init(
            "workspace_declared_plugins.plugin", "privileged, for an agent",
            "INSERT INTO workspace_declared_plugins (workspace_id, plugin, ref) SELECT id, $1, '1' FROM workspaces WHERE name = 'seo'",
            "molecule-platform-mcp"),
        .init(
            "workspace_declared_plugins.ref", "empty",
            "INSERT INTO workspace_declared_plugins (workspace_id, plugin, ref) SELECT id, 'web-search', $1 FROM workspaces WHERE name = 'seo'",
            ""),
        .init(
            "workspace_declared_plugins.ref", "a tab",
            "INSERT INTO workspace_declared_plugins (workspace_id, plugin, ref) SELECT id, 'web-search', $1 FROM workspaces WHERE name = 'seo'",
            "\t"),
        .init(
            "workspace_declared_plugins.ref", "a newline forging a log line",
            "INSERT INTO workspace_declared_plugins (workspace_id, plugin, ref) SELECT id, 'web-search', $1 FROM workspaces WHERE name = 'seo'",
            "2.3.0\nERROR forged"),
        .init(
            "workspace_declared_plugins.ref", "a shell command after a space",
            "INSERT INTO workspace_declared_plugins (workspace_id, plugin, ref) SELECT id, 'web-search', $1 FROM workspaces WHERE name = 'seo'",
            "1.0; rm -rf /"),
        .init(
            "workspace_declared_plugins.requires_restart", "NULL",
            "INSERT INTO workspace_declared_plugins (workspace_id, plugin, ref, requires_restart) SELECT id, 'web-search', '1', $1::boolean FROM workspaces WHERE name = 'seo'",
            nil),

        // privileged_plugins
        .init(
            "privileged_plugins.name", "capitals and a space", "INSERT INTO privileged_plugins (name) VALUES ($1)", "MCP Server"),
        .init("privileged_plugins.name", "NULL", "INSERT INTO privileged_plugins (name) VALUES ($1)", nil),
        .init(
            "privileged_plugins.name", "already listed", "INSERT INTO privileged_plugins (name) VALUES ($1)",
            "molecule-platform-mcp"),
        .init("privileged_plugins.reason", "NULL", "INSERT INTO privileged_plugins (name, reason) VALUES ('x', $1)", nil),
        .init(
            "privileged_plugins.reason", "a forged second line", "INSERT INTO privileged_plugins (name, reason) VALUES ('x', $1)",
            "admin\nINFO privileged plugin approved"),
        .init(
            "privileged_plugins.reason", "10,000 characters", "INSERT INTO privileged_plugins (name, reason) VALUES ('x', $1)",
            long),

        // tenants
        .init("tenants.name", "empty", "INSERT INTO tenants (name, hostname, tunnel_id) VALUES ($1, 'x.example.com', 'tun')", ""),
        .init(
            "tenants.name", "ideographic space only",
            "INSERT INTO tenants (name, hostname, tunnel_id) VALUES ($1, 'x.example.com', 'tun')", "\u{3000}"),
        .init(
            "tenants.name", "CR LF forged", "INSERT INTO tenants (name, hostname, tunnel_id) VALUES ($1, 'x.example.com', 'tun')",
            "globex\r\nforged"),
        .init(
            "tenants.name", "taken", "INSERT INTO tenants (name, hostname, tunnel_id) VALUES ($1, 'x.example.com', 'tun')", "acme"
        ),
        .init(
            "tenants.hostname", "not a DNS name", "INSERT INTO tenants (name, hostname, tunnel_id) VALUES ('x', $1, 'tun')",
            "Not A Host"),
        .init(
            "tenants.hostname", "a Cyrillic а (homograph)",
            "INSERT INTO tenants (name, hostname, tunnel_id) VALUES ('x', $1, 'tun')", "\u{430}cme.example.com"),
        .init(
            "tenants.hostname", "another tenant's", "INSERT INTO tenants (name, hostname, tunnel_id) VALUES ('x', $1, 'tun')",
            "acme.example.com"),
        .init(
            "tenants.hostname", "another tenant's, by UPDATE", "UPDATE tenants SET hostname = $1 WHERE name = 'globex'",
            "acme.example.com"),
        .init(
            "tenants.hostname", "300 characters", "INSERT INTO tenants (name, hostname, tunnel_id) VALUES ('x', $1, 'tun')",
            String(repeating: "a.", count: 150) + "com"),
        .init(
            "tenants.tunnel_id", "a traversal",
            "INSERT INTO tenants (name, hostname, tunnel_id) VALUES ('x', 'x.example.com', $1)", "../etc"),
        .init(
            "tenants.tunnel_id", "an option", "INSERT INTO tenants (name, hostname, tunnel_id) VALUES ('x', 'x.example.com', $1)",
            "-rf"),
        .init(
            "tenants.tunnel_id", "a dot", "INSERT INTO tenants (name, hostname, tunnel_id) VALUES ('x', 'x.example.com', $1)",
            ".."),
        .init(
            "tenants.tunnel_id", "a space", "INSERT INTO tenants (name, hostname, tunnel_id) VALUES ('x', 'x.example.com', $1)",
            "tunnel acme"),
        .init(
            "tenants.tunnel_id", "10,000 characters",
            "INSERT INTO tenants (name, hostname, tunnel_id) VALUES ('x', 'x.example.com', $1)", long),
        .init(
            "tenants.services", "a JSON array",
            "INSERT INTO tenants (name, hostname, tunnel_id, services) VALUES ('x', 'x.example.com', 'tun', $1::jsonb)", "[]"),
        .init(
            "tenants.services", "a number as URL",
            "INSERT INTO tenants (name, hostname, tunnel_id, services) VALUES ('x', 'x.example.com', 'tun', $1::jsonb)",
            #"{"app": 5}"#),
        .init(
            "tenants.services", "a service name with capitals",
            "INSERT INTO tenants (name, hostname, tunnel_id, services) VALUES ('x', 'x.example.com', 'tun', $1::jsonb)",
            #"{"App": "http://10.0.0.1:3000"}"#),
        .init(
            "tenants.services", "a newline in a URL",
            "INSERT INTO tenants (name, hostname, tunnel_id, services) VALUES ('x', 'x.example.com', 'tun', $1::jsonb)",
            #"{"app": "http://10.0.0.1:3000\n"}"#),

        // platform_paths
        .init("platform_paths.pattern", "relative", "INSERT INTO platform_paths (pattern) VALUES ($1)", "requests/*"),
        .init("platform_paths.pattern", "a trailing slash", "INSERT INTO platform_paths (pattern) VALUES ($1)", "/api/"),
        .init("platform_paths.pattern", "a '..' segment", "INSERT INTO platform_paths (pattern) VALUES ($1)", "/a/../b"),
        .init("platform_paths.pattern", "a '.' segment", "INSERT INTO platform_paths (pattern) VALUES ($1)", "/./x"),
        .init(
            "platform_paths.pattern", "a regular expression", "INSERT INTO platform_paths (pattern) VALUES ($1)", "/files/(.*)"),
        .init(
            "platform_paths.pattern", "SQL", "INSERT INTO platform_paths (pattern) VALUES ($1)",
            "/'; DROP TABLE platform_paths; --"),
        .init("platform_paths.pattern", "NULL", "INSERT INTO platform_paths (pattern) VALUES ($1)", nil),
        .init("platform_paths.pattern", "10,000 characters", "INSERT INTO platform_paths (pattern) VALUES ($1)", "/" + long),
        .init("platform_paths.pattern", "already listed", "INSERT INTO platform_paths (pattern) VALUES ($1)", "/api/*"),
        .init(
            "platform_paths.service", "capitals", "INSERT INTO platform_paths (pattern, service) VALUES ('/x', $1)", "Platform"),
        .init("platform_paths.service", "empty", "INSERT INTO platform_paths (pattern, service) VALUES ('/x', $1)", ""),
        .init(
            "platform_paths.note", "a forged second line", "INSERT INTO platform_paths (pattern, note) VALUES ('/x', $1)",
            "ok\nWARN forged"),
        .init("platform_paths.note", "10,000 characters", "INSERT INTO platform_paths (pattern, note) VALUES ('/x', $1)", long),

        // workspace_runtime_status
        .init(
            "workspace_runtime_status.workspace_id", "unknown",
            "INSERT INTO workspace_runtime_status (workspace_id, instance_id) VALUES ($1::uuid, 'i-1')", UUID().uuidString),
        .init("workspace_runtime_status.instance_id", "empty", "UPDATE workspace_runtime_status SET instance_id = $1", ""),
        .init(
            "workspace_runtime_status.instance_id", "a newline", "UPDATE workspace_runtime_status SET instance_id = $1",
            "i-1\nforged"),
        .init(
            "workspace_runtime_status.plugins", "a JSON array", "UPDATE workspace_runtime_status SET plugins = $1::jsonb", "[]"),
        .init(
            "workspace_runtime_status.plugins", "a number as ref", "UPDATE workspace_runtime_status SET plugins = $1::jsonb",
            #"{"web-search": 2}"#),
        .init(
            "workspace_runtime_status.plugins", "a newline in a name", "UPDATE workspace_runtime_status SET plugins = $1::jsonb",
            #"{"a\nb": "1"}"#),
        .init(
            "workspace_runtime_status.bundle_hash", "a space", "UPDATE workspace_runtime_status SET bundle_hash = $1", "abc def"),
        .init("workspace_runtime_status.ready", "NULL", "UPDATE workspace_runtime_status SET ready = $1::boolean", nil),
        .init(
            "workspace_runtime_status.reported_at", "NULL", "UPDATE workspace_runtime_status SET reported_at = $1::timestamptz",
            nil),
    ]
}
