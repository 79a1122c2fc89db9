-- The example fleet the embedded default loads into an empty database: two templates with
-- config.yaml and prompts, three agent workspaces and one platform workspace of org "acme",
-- a few secrets, the privileged management MCP plugin (declared for the platform workspace),
-- a plugin for the SEO agents, two tenants and the platform paths. Edit freely: it is plain
-- desired state, loaded once.

INSERT INTO templates (name, files) VALUES
  ('seo-agent', jsonb_build_object(
      'config.yaml', E'model: claude-sonnet\nmax_turns: 40\ntools: [search, fetch]\n',
      'prompts/system.md', E'You are the SEO agent of this workspace.\n')),
  ('concierge', jsonb_build_object(
      'config.yaml', E'model: claude-opus\nrole: org-concierge\n',
      'prompts/system.md', E'You are the org concierge. Never change your own secrets.\n'));

INSERT INTO privileged_plugins (name, reason) VALUES
  ('molecule-platform-mcp', 'management MCP server: platform workspaces only');

INSERT INTO workspaces (org, name, kind, template, image, restart_policy) VALUES
  ('acme', 'seo-1', 'agent', 'seo-agent', 'local/agent:1', 'auto'),
  ('acme', 'seo-2', 'agent', 'seo-agent', 'local/agent:1', 'auto'),
  ('acme', 'research', 'agent', 'seo-agent', 'local/agent:1', 'manual'),
  ('acme', 'concierge', 'platform', 'concierge', 'local/platform-agent:1', 'manual');

INSERT INTO org_secrets (org, key, value, runtime_consumed) VALUES
  ('acme', 'MODEL_API_KEY', 'example-model-key', true),
  ('acme', 'AUDIT_TAG', 'example', false);

INSERT INTO workspace_secrets (workspace_id, key, value)
SELECT id, 'SEARCH_API_KEY', 'example-search-key' FROM workspaces WHERE name LIKE 'seo-%';

INSERT INTO workspace_declared_plugins (workspace_id, plugin, ref)
SELECT id, 'molecule-platform-mcp', '1.6.1' FROM workspaces WHERE name = 'concierge';

-- A plugin delivered into running agents over HTTP (remove the row and it is removed).
INSERT INTO workspace_declared_plugins (workspace_id, plugin, ref)
SELECT id, 'web-search', '2.3.0' FROM workspaces WHERE name LIKE 'seo-%';

-- Two tenants, each with its own tunnel, and the platform paths every tenant routes to the
-- platform (the single source of truth: add a row and every tenant's config.yml picks it up).
INSERT INTO tenants (name, org, hostname, tunnel_id, services) VALUES
  ('acme', 'acme', 'acme.molecule.example', 'tunnel-acme',
   '{"platform": "http://127.0.0.1:8080", "app": "http://127.0.0.1:3000"}'),
  ('globex', 'globex', 'globex.molecule.example', 'tunnel-globex',
   '{"platform": "http://127.0.0.1:8081", "app": "http://127.0.0.1:3001"}');

INSERT INTO platform_paths (pattern, service, note) VALUES
  ('/api/*', 'platform', 'the platform API'),
  ('/ws/*', 'platform', 'workspace websockets'),
  ('/healthz', 'platform', 'platform health');
