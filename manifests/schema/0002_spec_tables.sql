-- Spec tables: desired state, written by operators (psql is a first-class interface) and by
-- the platform. Bad input is refused here, at write time, with a message that names the
-- column and the reason. Messages never echo a secret value.

CREATE TABLE templates (
    name        text        PRIMARY KEY,
    -- Template files: {"config.yaml": "...", "prompts/system.md": "..."}.
    files       jsonb       NOT NULL DEFAULT '{}',
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT templates_name_is_a_slug CHECK (name ~ '^[a-z0-9][a-z0-9-]*$'),
    CONSTRAINT templates_files_is_an_object CHECK (jsonb_typeof(files) = 'object')
);

CREATE TABLE workspaces (
    id                uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    org               text        NOT NULL,
    name              text        NOT NULL,
    kind              text        NOT NULL DEFAULT 'agent',
    template          text        REFERENCES templates (name),
    image             text        NOT NULL,
    desired_state     text        NOT NULL DEFAULT 'running',
    -- Bump to ask for a restart: UPDATE workspaces SET restart_requests = restart_requests + 1.
    restart_requests  bigint      NOT NULL DEFAULT 0,
    -- 'auto': the reconciler may restart the instance to apply a change the runtime must see;
    -- 'manual': it only sets restart_pending. Platform workspaces behave as 'manual' always.
    restart_policy    text        NOT NULL DEFAULT 'auto',
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    -- Status, written by the reconciler.
    phase             text        NOT NULL DEFAULT 'pending',
    last_error        text,
    last_error_at     timestamptz,
    -- {"Ready": {"status": "True", "reason": "...", "message": "...", "lastTransitionTime": "..."}, ...}
    conditions        jsonb       NOT NULL DEFAULT '{}',
    restart_pending   boolean     NOT NULL DEFAULT false,
    CONSTRAINT workspaces_org_name_unique UNIQUE (org, name),
    CONSTRAINT workspaces_kind_is_agent_or_platform CHECK (kind IN ('agent', 'platform')),
    CONSTRAINT workspaces_desired_state_is_known CHECK (desired_state IN ('running', 'stopped', 'deleted')),
    CONSTRAINT workspaces_image_is_not_empty CHECK (btrim(image) <> ''),
    CONSTRAINT workspaces_restart_policy_is_known CHECK (restart_policy IN ('auto', 'manual')),
    CONSTRAINT workspaces_phase_is_known CHECK (phase IN
        ('pending', 'provisioning', 'running', 'degraded', 'failed', 'stopping', 'stopped', 'deleting', 'deleted'))
);
CREATE INDEX workspaces_by_org ON workspaces (org);
CREATE INDEX workspaces_by_template ON workspaces (template);

CREATE FUNCTION workspaces_validate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF btrim(coalesce(NEW.org, '')) = '' THEN
        RAISE EXCEPTION 'workspaces.org: must not be empty' USING ERRCODE = 'check_violation', COLUMN = 'org';
    END IF;
    IF btrim(coalesce(NEW.name, '')) = '' THEN
        RAISE EXCEPTION 'workspaces.name: must not be empty' USING ERRCODE = 'check_violation', COLUMN = 'name';
    END IF;
    IF NEW.kind IS NULL OR NEW.kind NOT IN ('agent', 'platform') THEN
        RAISE EXCEPTION 'workspaces.kind: must be ''agent'' or ''platform'', got %', quote_nullable(NEW.kind)
            USING ERRCODE = 'check_violation', COLUMN = 'kind';
    END IF;
    IF NEW.desired_state IS NULL OR NEW.desired_state NOT IN ('running', 'stopped', 'deleted') THEN
        RAISE EXCEPTION 'workspaces.desired_state: must be ''running'', ''stopped'' or ''deleted'', got %',
            quote_nullable(NEW.desired_state) USING ERRCODE = 'check_violation', COLUMN = 'desired_state';
    END IF;
    IF btrim(coalesce(NEW.image, '')) = '' THEN
        RAISE EXCEPTION 'workspaces.image: must not be empty (the image the instance runs)'
            USING ERRCODE = 'check_violation', COLUMN = 'image';
    END IF;
    IF NEW.restart_policy IS NULL OR NEW.restart_policy NOT IN ('auto', 'manual') THEN
        RAISE EXCEPTION 'workspaces.restart_policy: must be ''auto'' or ''manual'', got %',
            quote_nullable(NEW.restart_policy) USING ERRCODE = 'check_violation', COLUMN = 'restart_policy';
    END IF;
    IF NEW.template IS NOT NULL AND NOT EXISTS (SELECT 1 FROM templates WHERE name = NEW.template) THEN
        RAISE EXCEPTION 'workspaces.template: no template named %', quote_literal(NEW.template)
            USING ERRCODE = 'foreign_key_violation', COLUMN = 'template';
    END IF;
    IF TG_OP = 'UPDATE' THEN
        IF NEW.restart_requests < OLD.restart_requests THEN
            RAISE EXCEPTION 'workspaces.restart_requests: is a counter and can only grow (% -> %)',
                OLD.restart_requests, NEW.restart_requests USING ERRCODE = 'check_violation', COLUMN = 'restart_requests';
        END IF;
        IF OLD.kind = 'platform' AND NEW.kind <> 'platform' AND EXISTS (
            SELECT 1 FROM workspace_declared_plugins d JOIN privileged_plugins p ON p.name = d.plugin
            WHERE d.workspace_id = NEW.id) THEN
            RAISE EXCEPTION 'workspaces.kind: cannot leave ''platform'' while privileged plugins are declared for it'
                USING ERRCODE = 'check_violation', COLUMN = 'kind';
        END IF;
        IF (NEW.org, NEW.name, NEW.kind, NEW.template, NEW.image, NEW.desired_state, NEW.restart_requests, NEW.restart_policy)
           IS DISTINCT FROM
           (OLD.org, OLD.name, OLD.kind, OLD.template, OLD.image, OLD.desired_state, OLD.restart_requests, OLD.restart_policy) THEN
            NEW.updated_at := now();
        END IF;
    ELSIF NEW.restart_requests < 0 THEN
        RAISE EXCEPTION 'workspaces.restart_requests: must not be negative'
            USING ERRCODE = 'check_violation', COLUMN = 'restart_requests';
    END IF;
    RETURN NEW;
END $$;

CREATE TABLE workspace_secrets (
    workspace_id      uuid        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    key               text        NOT NULL,
    value             text        NOT NULL,
    -- Whether the workspace runtime reads this key (a change to it needs a restart to be seen).
    runtime_consumed  boolean     NOT NULL DEFAULT true,
    -- 'operator', 'platform', or 'workspace:<uuid>' when a workspace wrote it itself.
    written_by        text        NOT NULL DEFAULT 'operator',
    written_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, key)
);

CREATE TABLE org_secrets (
    org               text        NOT NULL,
    key               text        NOT NULL,
    value             text        NOT NULL,
    runtime_consumed  boolean     NOT NULL DEFAULT true,
    written_by        text        NOT NULL DEFAULT 'operator',
    written_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org, key)
);

CREATE FUNCTION secrets_validate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.key IS NULL OR NEW.key !~ '^[A-Za-z_][A-Za-z0-9_]*$' THEN
        RAISE EXCEPTION '%.key: must be an environment-variable name (letters, digits, underscore; not starting with a digit), got %',
            TG_TABLE_NAME, quote_nullable(NEW.key) USING ERRCODE = 'check_violation', COLUMN = 'key';
    END IF;
    IF NEW.value IS NULL THEN
        RAISE EXCEPTION '%.value: must not be NULL (delete the row to remove a secret)', TG_TABLE_NAME
            USING ERRCODE = 'not_null_violation', COLUMN = 'value';
    END IF;
    IF NEW.written_by IS NULL OR NEW.written_by !~ '^(operator|platform|workspace:[0-9a-f-]{36})$' THEN
        RAISE EXCEPTION '%.written_by: must be ''operator'', ''platform'' or ''workspace:<uuid>'', got %',
            TG_TABLE_NAME, quote_nullable(NEW.written_by) USING ERRCODE = 'check_violation', COLUMN = 'written_by';
    END IF;
    RETURN NEW;
END $$;

-- Plugins that only kind = 'platform' workspaces may have (the management MCP server...).
CREATE TABLE privileged_plugins (
    name    text PRIMARY KEY,
    reason  text NOT NULL DEFAULT ''
);

CREATE TABLE workspace_declared_plugins (
    workspace_id  uuid        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    plugin        text        NOT NULL,
    -- What to install: a version, a git ref or a URL the runtime understands.
    ref           text        NOT NULL,
    declared_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, plugin)
);

CREATE FUNCTION workspace_declared_plugins_validate() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    workspace_kind text;
BEGIN
    IF NEW.plugin IS NULL OR NEW.plugin !~ '^[a-z0-9][a-z0-9._-]*$' THEN
        RAISE EXCEPTION 'workspace_declared_plugins.plugin: must be a lowercase name ([a-z0-9._-]), got %',
            quote_nullable(NEW.plugin) USING ERRCODE = 'check_violation', COLUMN = 'plugin';
    END IF;
    IF btrim(coalesce(NEW.ref, '')) = '' THEN
        RAISE EXCEPTION 'workspace_declared_plugins.ref: must not be empty' USING ERRCODE = 'check_violation', COLUMN = 'ref';
    END IF;
    IF EXISTS (SELECT 1 FROM privileged_plugins WHERE name = NEW.plugin) THEN
        -- Fail closed: a workspace we cannot find is not a platform workspace.
        SELECT kind INTO workspace_kind FROM workspaces WHERE id = NEW.workspace_id FOR SHARE;
        IF workspace_kind IS DISTINCT FROM 'platform' THEN
            RAISE EXCEPTION 'workspace_declared_plugins.plugin: % is privileged and may only be declared for kind = ''platform'' workspaces (workspace % is %)',
                quote_literal(NEW.plugin), NEW.workspace_id, coalesce(quote_literal(workspace_kind), 'missing')
                USING ERRCODE = 'check_violation', COLUMN = 'plugin';
        END IF;
    END IF;
    RETURN NEW;
END $$;

CREATE FUNCTION privileged_plugins_validate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM workspace_declared_plugins d JOIN workspaces w ON w.id = d.workspace_id
               WHERE d.plugin = NEW.name AND w.kind <> 'platform') THEN
        RAISE EXCEPTION 'privileged_plugins.name: % is declared by non-platform workspaces; remove those declarations first',
            quote_literal(NEW.name) USING ERRCODE = 'check_violation', COLUMN = 'name';
    END IF;
    RETURN NEW;
END $$;

CREATE TABLE tenants (
    id          uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text        NOT NULL UNIQUE,
    hostname    text        NOT NULL,
    tunnel_id   text        NOT NULL,
    -- Service name -> URL: {"platform": "http://localhost:8080", "app": "http://localhost:3000"}.
    -- "app" receives the catch-all rule.
    services    jsonb       NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION tenants_validate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.hostname IS NULL OR NEW.hostname !~ '^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$' THEN
        RAISE EXCEPTION 'tenants.hostname: must be a lowercase DNS name, got %', quote_nullable(NEW.hostname)
            USING ERRCODE = 'check_violation', COLUMN = 'hostname';
    END IF;
    IF btrim(coalesce(NEW.tunnel_id, '')) = '' THEN
        RAISE EXCEPTION 'tenants.tunnel_id: must not be empty' USING ERRCODE = 'check_violation', COLUMN = 'tunnel_id';
    END IF;
    IF jsonb_typeof(NEW.services) IS DISTINCT FROM 'object' THEN
        RAISE EXCEPTION 'tenants.services: must be a JSON object of service name to URL'
            USING ERRCODE = 'check_violation', COLUMN = 'services';
    END IF;
    RETURN NEW;
END $$;

-- The single source of truth of the paths every tenant routes to a platform service.
CREATE TABLE platform_paths (
    pattern     text        PRIMARY KEY,
    -- The key in tenants.services that serves this path.
    service     text        NOT NULL DEFAULT 'platform',
    note        text        NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION platform_paths_validate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.pattern IS NULL OR NEW.pattern !~ '^/([A-Za-z0-9._~-]+/)*([A-Za-z0-9._~-]+|\*)?$' THEN
        RAISE EXCEPTION 'platform_paths.pattern: must be an absolute path of segments [A-Za-z0-9._~-], optionally ending in /*, got %',
            quote_nullable(NEW.pattern) USING ERRCODE = 'check_violation', COLUMN = 'pattern';
    END IF;
    IF NEW.service IS NULL OR NEW.service !~ '^[a-z][a-z0-9_-]*$' THEN
        RAISE EXCEPTION 'platform_paths.service: must be a service name ([a-z][a-z0-9_-]*), got %',
            quote_nullable(NEW.service) USING ERRCODE = 'check_violation', COLUMN = 'service';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER workspaces_validate BEFORE INSERT OR UPDATE ON workspaces
    FOR EACH ROW EXECUTE FUNCTION workspaces_validate();
CREATE TRIGGER workspace_secrets_validate BEFORE INSERT OR UPDATE ON workspace_secrets
    FOR EACH ROW EXECUTE FUNCTION secrets_validate();
CREATE TRIGGER org_secrets_validate BEFORE INSERT OR UPDATE ON org_secrets
    FOR EACH ROW EXECUTE FUNCTION secrets_validate();
CREATE TRIGGER workspace_declared_plugins_validate BEFORE INSERT OR UPDATE ON workspace_declared_plugins
    FOR EACH ROW EXECUTE FUNCTION workspace_declared_plugins_validate();
CREATE TRIGGER privileged_plugins_validate BEFORE INSERT OR UPDATE ON privileged_plugins
    FOR EACH ROW EXECUTE FUNCTION privileged_plugins_validate();
CREATE TRIGGER tenants_validate BEFORE INSERT OR UPDATE ON tenants
    FOR EACH ROW EXECUTE FUNCTION tenants_validate();
CREATE TRIGGER platform_paths_validate BEFORE INSERT OR UPDATE ON platform_paths
    FOR EACH ROW EXECUTE FUNCTION platform_paths_validate();
