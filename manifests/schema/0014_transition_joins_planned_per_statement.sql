-- Transition-table joins are planned for the statement that fires them.
--
-- PL/pgSQL keeps the plan of a query that uses no variable for the rest of the session, and a
-- transition table's size is part of that plan. A session that first changed one row (an
-- operator's single edit, the sidecar's 64-key write-back) kept a nested loop over
-- `changed_new` x `changed_old`; the same session's fan-out over 20,000 rows then compared
-- 400 million pairs and ran into its statement timeout (over 60 s where 0.4 s is enough). The
-- other way round, a plan made for 100,000 rows was JIT-compiled again at every small write.
-- Every query that joins a transition table (with another one, or with a table) now runs
-- through EXECUTE, which plans it for the rows at hand; the functions are otherwise unchanged.

CREATE OR REPLACE FUNCTION molecule_controller_keys_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO leases (controller, key)
        SELECT TG_TABLE_NAME, key FROM new_keys
        ON CONFLICT DO NOTHING;
        PERFORM molecule_notify(TG_TABLE_NAME, ARRAY(SELECT key FROM new_keys));
    ELSE
        EXECUTE 'DELETE FROM leases l USING old_keys o WHERE l.controller = $1 AND l.key = o.key' USING TG_TABLE_NAME;
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION workspaces_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    keys uuid[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO instances (key) SELECT id FROM new_rows;
        INSERT INTO secret_bundles (key) SELECT id FROM new_rows;
        INSERT INTO plugin_installs (key) SELECT id FROM new_rows;
        RETURN NULL;
    END IF;
    EXECUTE 'SELECT ARRAY(
        SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id
        WHERE (n.org, n.name, n.kind, n.template, n.image, n.desired_state, n.restart_requests, n.restart_policy)
              IS DISTINCT FROM
              (o.org, o.name, o.kind, o.template, o.image, o.desired_state, o.restart_requests, o.restart_policy))'
        INTO keys;
    PERFORM molecule_bump('instances', keys);
    PERFORM molecule_bump('secret_bundles', keys);
    PERFORM molecule_bump('plugin_installs', keys);
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION instances_target_moved() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- Under the workspaces_updated statement trigger's bump: a restart request, image or
    -- template change means a new instance generation.
    EXECUTE 'UPDATE instances i SET target_generation = i.target_generation + 1
      FROM new_rows n JOIN old_rows o ON o.id = n.id
     WHERE i.key = n.id
       AND (n.restart_requests, n.image, n.template) IS DISTINCT FROM (o.restart_requests, o.image, o.template)';
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION lifecycle_chain() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    keys uuid[];
BEGIN
    IF TG_TABLE_NAME = 'instances' THEN
        EXECUTE 'SELECT ARRAY(
            SELECT n.key FROM changed_new n JOIN changed_old o ON o.key = n.key
             WHERE n.target_generation <> o.target_generation)' INTO keys;
        PERFORM molecule_bump('secret_bundles', keys);
        EXECUTE 'SELECT ARRAY(
            SELECT n.key FROM changed_new n JOIN changed_old o ON o.key = n.key
             WHERE (n.instance_id, n.instance_state, n.address) IS DISTINCT FROM (o.instance_id, o.instance_state, o.address))'
            INTO keys;
        PERFORM molecule_bump('plugin_installs', keys);
    ELSIF TG_TABLE_NAME = 'secret_bundles' THEN
        EXECUTE 'SELECT ARRAY(
            SELECT n.key FROM changed_new n JOIN changed_old o ON o.key = n.key
             WHERE (n.staged_hash, n.staged_generation) IS DISTINCT FROM (o.staged_hash, o.staged_generation))'
            INTO keys;
        PERFORM molecule_bump('instances', keys);
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION runtime_status_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    keys uuid[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        keys := ARRAY(SELECT workspace_id FROM changed_new);
    ELSE
        EXECUTE 'SELECT ARRAY(
            SELECT n.workspace_id FROM changed_new n JOIN changed_old o ON o.workspace_id = n.workspace_id
             WHERE (n.instance_id, n.ready, n.busy_since, n.management_mcp_present, n.plugins, n.bundle_hash)
                   IS DISTINCT FROM
                   (o.instance_id, o.ready, o.busy_since, o.management_mcp_present, o.plugins, o.bundle_hash))'
            INTO keys;
    END IF;
    PERFORM molecule_bump('instances', keys);
    PERFORM molecule_bump('plugin_installs', keys);
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION ingress_inputs_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    keys uuid[];
BEGIN
    IF TG_TABLE_NAME = 'tenants' THEN
        IF TG_OP = 'INSERT' THEN
            INSERT INTO tunnel_ingress (key) SELECT id FROM changed_new;
        ELSIF TG_OP = 'UPDATE' THEN
            EXECUTE 'SELECT ARRAY(
                SELECT n.id FROM changed_new n JOIN changed_old o ON o.id = n.id
                WHERE (n.hostname, n.tunnel_id, n.services) IS DISTINCT FROM (o.hostname, o.tunnel_id, o.services))'
                INTO keys;
            PERFORM molecule_bump('tunnel_ingress', keys);
        END IF;
    ELSE
        PERFORM molecule_bump('tunnel_ingress', ARRAY(SELECT key FROM tunnel_ingress));
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION molecule_status_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    keys uuid[];
BEGIN
    IF TG_TABLE_NAME = 'workspaces' THEN
        EXECUTE 'SELECT ARRAY(
            SELECT n.id FROM changed_new n JOIN changed_old o ON o.id = n.id
             WHERE (n.phase, n.conditions, n.restart_pending, n.last_error)
                   IS DISTINCT FROM (o.phase, o.conditions, o.restart_pending, o.last_error))' INTO keys;
        PERFORM molecule_notify('molecule_status', keys);
    ELSIF TG_TABLE_NAME = 'tunnel_ingress' THEN
        EXECUTE 'SELECT ARRAY(
            SELECT n.key FROM changed_new n JOIN changed_old o ON o.key = n.key
             WHERE (n.applied_hash, n.applied_rules, n.last_error, n.skipped_paths, n.observed_generation)
                   IS DISTINCT FROM (o.applied_hash, o.applied_rules, o.last_error, o.skipped_paths, o.observed_generation))'
            INTO keys;
        PERFORM molecule_notify('molecule_status', keys);
    ELSE
        PERFORM molecule_notify('molecule_status', ARRAY(SELECT DISTINCT key FROM changed_new));
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION tenants_retire_ingress() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE 'INSERT INTO retired_ingress (tunnel_id, hostname)
    SELECT o.tunnel_id, o.hostname FROM changed_old o
     WHERE NOT EXISTS (SELECT 1 FROM tenants t WHERE t.tunnel_id = o.tunnel_id AND t.hostname = o.hostname)
    ON CONFLICT (tunnel_id, hostname) DO UPDATE SET retired_at = excluded.retired_at';
    RETURN NULL;
END $$;

-- CREATE OR REPLACE resets a function's settings: run as the owner with a fixed search_path
-- again, as schemas 0010 and 0011 set them.
DO $$
DECLARE
    fn text;
BEGIN
    FOREACH fn IN ARRAY ARRAY['molecule_controller_keys_changed()', 'workspaces_changed()', 'instances_target_moved()',
                              'lifecycle_chain()', 'runtime_status_changed()', 'ingress_inputs_changed()',
                              'molecule_status_changed()', 'tenants_retire_ingress()'] LOOP
        EXECUTE format('ALTER FUNCTION %s SECURITY DEFINER SET search_path = %I, pg_temp', fn, current_schema());
    END LOOP;
END $$;
