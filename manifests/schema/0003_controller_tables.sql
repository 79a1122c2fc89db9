-- One desired-vs-observed table per controller, keyed by the resource key. Triggers on the
-- spec tables move `desired_generation` whenever any input of a key changes (fan-out included)
-- and NOTIFY the controller; a status write by the reconciler never moves it.

CREATE TABLE instances (
    key                  uuid        PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
    desired_generation   bigint      NOT NULL DEFAULT 1,
    observed_generation  bigint      NOT NULL DEFAULT 0,
    -- Observed: the instance that serves the workspace.
    instance_id          text,
    instance_generation  bigint      NOT NULL DEFAULT 0,
    instance_state       text,
    address              text,
    launched_at          timestamptz,
    last_error           text,
    last_error_at        timestamptz,
    attempts             integer     NOT NULL DEFAULT 0,
    next_attempt_at      timestamptz
);

CREATE TABLE secret_bundles (
    key                  uuid        PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
    desired_generation   bigint      NOT NULL DEFAULT 1,
    observed_generation  bigint      NOT NULL DEFAULT 0,
    -- Observed: what the secret store holds.
    staged_hash          text,
    staged_version       text,
    staged_at            timestamptz,
    last_error           text,
    last_error_at        timestamptz,
    attempts             integer     NOT NULL DEFAULT 0,
    next_attempt_at      timestamptz
);

CREATE TABLE plugin_installs (
    key                  uuid        PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
    desired_generation   bigint      NOT NULL DEFAULT 1,
    observed_generation  bigint      NOT NULL DEFAULT 0,
    -- Observed: {"plugin": "ref", ...} as the runtime last reported it.
    installed            jsonb       NOT NULL DEFAULT '{}',
    last_error           text,
    last_error_at        timestamptz,
    attempts             integer     NOT NULL DEFAULT 0,
    next_attempt_at      timestamptz
);

CREATE TABLE tunnel_ingress (
    key                  uuid        PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    desired_generation   bigint      NOT NULL DEFAULT 1,
    observed_generation  bigint      NOT NULL DEFAULT 0,
    -- Observed: the hash of the configuration read back from the tunnel provider.
    applied_hash         text,
    applied_at           timestamptz,
    last_error           text,
    last_error_at        timestamptz,
    attempts             integer     NOT NULL DEFAULT 0,
    next_attempt_at      timestamptz
);

SELECT molecule_register_controller('instances');
SELECT molecule_register_controller('secret_bundles');
SELECT molecule_register_controller('plugin_installs');
SELECT molecule_register_controller('tunnel_ingress');

-- A new workspace gets its row in every workspace controller; a change to its spec columns
-- makes all of them due. Status columns (phase, conditions...) move nothing.
CREATE FUNCTION workspaces_changed() RETURNS trigger
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
    keys := ARRAY(
        SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id
        WHERE (n.org, n.name, n.kind, n.template, n.image, n.desired_state, n.restart_requests, n.restart_policy)
              IS DISTINCT FROM
              (o.org, o.name, o.kind, o.template, o.image, o.desired_state, o.restart_requests, o.restart_policy));
    PERFORM molecule_bump('instances', keys);
    PERFORM molecule_bump('secret_bundles', keys);
    PERFORM molecule_bump('plugin_installs', keys);
    RETURN NULL;
END $$;

CREATE TRIGGER workspaces_inserted AFTER INSERT ON workspaces REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION workspaces_changed();
CREATE TRIGGER workspaces_updated AFTER UPDATE ON workspaces REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION workspaces_changed();

-- Secrets and templates feed the bundle (transition tables exist only for the events that have
-- them, hence the branches). An org secret or a template fans out to every
-- workspace that uses it: one UPDATE and one '*' notification per statement.
CREATE FUNCTION bundle_inputs_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    touched jsonb := '[]';
    keys uuid[];
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        touched := touched || (SELECT coalesce(jsonb_agg(to_jsonb(r)), '[]') FROM changed_new r);
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        touched := touched || (SELECT coalesce(jsonb_agg(to_jsonb(r)), '[]') FROM changed_old r);
    END IF;
    IF TG_TABLE_NAME = 'workspace_secrets' THEN
        keys := ARRAY(SELECT DISTINCT (t ->> 'workspace_id')::uuid FROM jsonb_array_elements(touched) t);
    ELSIF TG_TABLE_NAME = 'org_secrets' THEN
        keys := ARRAY(SELECT w.id FROM workspaces w
                      WHERE w.org IN (SELECT t ->> 'org' FROM jsonb_array_elements(touched) t));
    ELSE
        keys := ARRAY(SELECT w.id FROM workspaces w
                      WHERE w.template IN (SELECT t ->> 'name' FROM jsonb_array_elements(touched) t));
    END IF;
    PERFORM molecule_bump('secret_bundles', keys);
    RETURN NULL;
END $$;

-- Declared plugins and the privileged list feed plugin installs.
CREATE FUNCTION plugin_inputs_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    touched jsonb := '[]';
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        touched := touched || (SELECT coalesce(jsonb_agg(to_jsonb(r)), '[]') FROM changed_new r);
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        touched := touched || (SELECT coalesce(jsonb_agg(to_jsonb(r)), '[]') FROM changed_old r);
    END IF;
    IF TG_TABLE_NAME = 'workspace_declared_plugins' THEN
        PERFORM molecule_bump('plugin_installs', ARRAY(
            SELECT DISTINCT (t ->> 'workspace_id')::uuid FROM jsonb_array_elements(touched) t));
    ELSE
        PERFORM molecule_bump('plugin_installs', ARRAY(
            SELECT DISTINCT d.workspace_id FROM workspace_declared_plugins d
            WHERE d.plugin IN (SELECT t ->> 'name' FROM jsonb_array_elements(touched) t)));
    END IF;
    RETURN NULL;
END $$;

-- A tenant's own row feeds its ingress; platform_paths (the SSOT) feeds every tenant's.
CREATE FUNCTION ingress_inputs_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'tenants' THEN
        IF TG_OP = 'INSERT' THEN
            INSERT INTO tunnel_ingress (key) SELECT id FROM changed_new;
        ELSIF TG_OP = 'UPDATE' THEN
            PERFORM molecule_bump('tunnel_ingress', ARRAY(
                SELECT n.id FROM changed_new n JOIN changed_old o ON o.id = n.id
                WHERE (n.hostname, n.tunnel_id, n.services) IS DISTINCT FROM (o.hostname, o.tunnel_id, o.services)));
        END IF;
    ELSE
        PERFORM molecule_bump('tunnel_ingress', ARRAY(SELECT key FROM tunnel_ingress));
    END IF;
    RETURN NULL;
END $$;

-- Statement-level triggers with transition tables, one per event (PostgreSQL allows
-- transition tables on single-event triggers only).
CREATE FUNCTION molecule_attach_input_triggers(tbl text, fn text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON %I REFERENCING NEW TABLE AS changed_new
                    FOR EACH STATEMENT EXECUTE FUNCTION %I()', tbl || '_input_inserted', tbl, fn);
    EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON %I REFERENCING OLD TABLE AS changed_old NEW TABLE AS changed_new
                    FOR EACH STATEMENT EXECUTE FUNCTION %I()', tbl || '_input_updated', tbl, fn);
    EXECUTE format('CREATE TRIGGER %I AFTER DELETE ON %I REFERENCING OLD TABLE AS changed_old
                    FOR EACH STATEMENT EXECUTE FUNCTION %I()', tbl || '_input_deleted', tbl, fn);
END $$;

SELECT molecule_attach_input_triggers('workspace_secrets', 'bundle_inputs_changed');
SELECT molecule_attach_input_triggers('org_secrets', 'bundle_inputs_changed');
SELECT molecule_attach_input_triggers('templates', 'bundle_inputs_changed');
SELECT molecule_attach_input_triggers('workspace_declared_plugins', 'plugin_inputs_changed');
SELECT molecule_attach_input_triggers('privileged_plugins', 'plugin_inputs_changed');
SELECT molecule_attach_input_triggers('tenants', 'ingress_inputs_changed');
SELECT molecule_attach_input_triggers('platform_paths', 'ingress_inputs_changed');
