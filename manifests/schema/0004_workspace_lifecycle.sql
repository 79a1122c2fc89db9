-- Workspace lifecycle: the instance generation that should run, the bundle staged for it,
-- the runtime's heartbeat (written by the platform, or by the reconciler's probe), and the
-- triggers that chain them: a new instance generation needs a new bundle (fresh token), a
-- staged bundle lets the instance of its generation boot, a heartbeat transition wakes the
-- instance and plugin controllers.

ALTER TABLE instances
    -- The instance generation that should run: moves on a restart request, an image or template
    -- change, or a remediation. Bundles and idempotency tokens are per instance generation.
    ADD COLUMN target_generation bigint NOT NULL DEFAULT 1;

ALTER TABLE secret_bundles
    -- Per-workspace seed of the instance tokens (HMAC input); never leaves the database.
    ADD COLUMN token_seed text NOT NULL DEFAULT gen_random_uuid()::text,
    -- The instance generation the staged bundle is for, and the hash of what the runtime consumes.
    ADD COLUMN staged_generation bigint,
    ADD COLUMN staged_runtime_hash text;

-- The heartbeat contract: one row per workspace, upserted by whoever observes the runtime.
CREATE TABLE workspace_runtime_status (
    workspace_id            uuid        PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
    instance_id             text        NOT NULL,
    ready                   boolean     NOT NULL DEFAULT false,
    -- Set while the runtime is busy in a turn.
    busy_since              timestamptz,
    management_mcp_present  boolean     NOT NULL DEFAULT false,
    -- {"plugin": "ref"} as installed in the runtime.
    plugins                 jsonb       NOT NULL DEFAULT '{}',
    -- The hash of the bundle the runtime loaded.
    bundle_hash             text,
    reported_at             timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION instances_target_moved() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- Under the workspaces_updated statement trigger's bump: a restart request, image or
    -- template change means a new instance generation.
    UPDATE instances i SET target_generation = i.target_generation + 1
      FROM new_rows n JOIN old_rows o ON o.id = n.id
     WHERE i.key = n.id
       AND (n.restart_requests, n.image, n.template) IS DISTINCT FROM (o.restart_requests, o.image, o.template);
    RETURN NULL;
END $$;

CREATE TRIGGER workspaces_instance_generation AFTER UPDATE ON workspaces
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION instances_target_moved();

CREATE FUNCTION lifecycle_chain() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'instances' THEN
        PERFORM molecule_bump('secret_bundles', ARRAY(
            SELECT n.key FROM changed_new n JOIN changed_old o ON o.key = n.key
             WHERE n.target_generation <> o.target_generation));
    ELSIF TG_TABLE_NAME = 'secret_bundles' THEN
        PERFORM molecule_bump('instances', ARRAY(
            SELECT n.key FROM changed_new n JOIN changed_old o ON o.key = n.key
             WHERE (n.staged_hash, n.staged_generation) IS DISTINCT FROM (o.staged_hash, o.staged_generation)));
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER instances_chain AFTER UPDATE ON instances
    REFERENCING OLD TABLE AS changed_old NEW TABLE AS changed_new
    FOR EACH STATEMENT EXECUTE FUNCTION lifecycle_chain();
CREATE TRIGGER secret_bundles_chain AFTER UPDATE ON secret_bundles
    REFERENCING OLD TABLE AS changed_old NEW TABLE AS changed_new
    FOR EACH STATEMENT EXECUTE FUNCTION lifecycle_chain();

-- A heartbeat moves the instance and plugin controllers only on a transition (readiness, a
-- turn starting or ending, the MCP server or plugins or bundle changing), never on a plain
-- "still alive" report, so heartbeats cost no controller writes.
CREATE FUNCTION runtime_status_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    keys uuid[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        keys := ARRAY(SELECT workspace_id FROM changed_new);
    ELSE
        keys := ARRAY(
            SELECT n.workspace_id FROM changed_new n JOIN changed_old o ON o.workspace_id = n.workspace_id
             WHERE (n.instance_id, n.ready, n.busy_since, n.management_mcp_present, n.plugins, n.bundle_hash)
                   IS DISTINCT FROM
                   (o.instance_id, o.ready, o.busy_since, o.management_mcp_present, o.plugins, o.bundle_hash));
    END IF;
    PERFORM molecule_bump('instances', keys);
    PERFORM molecule_bump('plugin_installs', keys);
    RETURN NULL;
END $$;

CREATE TRIGGER runtime_status_inserted AFTER INSERT ON workspace_runtime_status
    REFERENCING NEW TABLE AS changed_new FOR EACH STATEMENT EXECUTE FUNCTION runtime_status_changed();
CREATE TRIGGER runtime_status_updated AFTER UPDATE ON workspace_runtime_status
    REFERENCING OLD TABLE AS changed_old NEW TABLE AS changed_new FOR EACH STATEMENT EXECUTE FUNCTION runtime_status_changed();
