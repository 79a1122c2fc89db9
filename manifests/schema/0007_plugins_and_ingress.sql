-- Declared plugins and tunnel ingress: what the two controllers read beyond 0002/0003, and
-- the chains that wake them.

ALTER TABLE workspace_declared_plugins
    -- The runtime loads this plugin only at boot: it is staged in the bundle and arrives with a
    -- new instance, under the restart policy (busy turns wait, platform workspaces get
    -- restart_pending). Other plugins are delivered into the running instance over HTTP.
    ADD COLUMN requires_restart boolean NOT NULL DEFAULT false;

COMMENT ON COLUMN plugin_installs.installed IS
    'The plugins this controller delivered ({"name": "ref"}): only these are removed when no longer declared.';

ALTER TABLE tunnel_ingress
    -- How many rules of the tenant's hostname the provider held when last read back.
    ADD COLUMN applied_rules integer;

-- A declaration feeds plugin delivery, and the bundle too (boot plugins are staged in it; for
-- other plugins the bundle's hash is unchanged, so staging is a no-op). The privileged list
-- feeds the delivery of the plugins it names.
CREATE OR REPLACE FUNCTION plugin_inputs_changed() RETURNS trigger
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
    IF TG_TABLE_NAME = 'workspace_declared_plugins' THEN
        keys := ARRAY(SELECT DISTINCT (t ->> 'workspace_id')::uuid FROM jsonb_array_elements(touched) t);
        PERFORM molecule_bump('plugin_installs', keys);
        PERFORM molecule_bump('secret_bundles', keys);
    ELSE
        PERFORM molecule_bump('plugin_installs', ARRAY(
            SELECT DISTINCT d.workspace_id FROM workspace_declared_plugins d
            WHERE d.plugin IN (SELECT t ->> 'name' FROM jsonb_array_elements(touched) t)));
    END IF;
    RETURN NULL;
END $$;

-- A new or replaced instance (or one that stopped) is a new delivery target: wake the plugins
-- controller. Kept from 0004: a new target generation needs a new bundle; a new bundle lets
-- the instance of its generation boot.
CREATE OR REPLACE FUNCTION lifecycle_chain() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'instances' THEN
        PERFORM molecule_bump('secret_bundles', ARRAY(
            SELECT n.key FROM changed_new n JOIN changed_old o ON o.key = n.key
             WHERE n.target_generation <> o.target_generation));
        PERFORM molecule_bump('plugin_installs', ARRAY(
            SELECT n.key FROM changed_new n JOIN changed_old o ON o.key = n.key
             WHERE (n.instance_id, n.instance_state, n.address) IS DISTINCT FROM (o.instance_id, o.instance_state, o.address)));
    ELSIF TG_TABLE_NAME = 'secret_bundles' THEN
        PERFORM molecule_bump('instances', ARRAY(
            SELECT n.key FROM changed_new n JOIN changed_old o ON o.key = n.key
             WHERE (n.staged_hash, n.staged_generation) IS DISTINCT FROM (o.staged_hash, o.staged_generation)));
    END IF;
    RETURN NULL;
END $$;

-- A tenant deleted, or moved to another hostname or tunnel, leaves rules in a tunnel that no
-- key reconciles any more (tunnel configurations are shared and replaced whole). Such
-- (tunnel, hostname) pairs are queued here; the ingress sweeper removes their rules from the
-- tunnel and then the row.
CREATE TABLE retired_ingress (
    tunnel_id   text        NOT NULL,
    hostname    text        NOT NULL,
    retired_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tunnel_id, hostname)
);

CREATE FUNCTION tenants_retire_ingress() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO retired_ingress (tunnel_id, hostname)
    SELECT o.tunnel_id, o.hostname FROM changed_old o
     WHERE NOT EXISTS (SELECT 1 FROM tenants t WHERE t.tunnel_id = o.tunnel_id AND t.hostname = o.hostname)
    ON CONFLICT (tunnel_id, hostname) DO UPDATE SET retired_at = excluded.retired_at;
    RETURN NULL;
END $$;

CREATE TRIGGER tenants_ingress_retired_deleted AFTER DELETE ON tenants
    REFERENCING OLD TABLE AS changed_old FOR EACH STATEMENT EXECUTE FUNCTION tenants_retire_ingress();
CREATE TRIGGER tenants_ingress_retired_updated AFTER UPDATE ON tenants
    REFERENCING OLD TABLE AS changed_old FOR EACH STATEMENT EXECUTE FUNCTION tenants_retire_ingress();
