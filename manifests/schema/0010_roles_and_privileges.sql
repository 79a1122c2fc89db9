-- Roles and privileges (issue 17): spec separated from status like Kubernetes' status
-- subresource, write-only secrets, org-scoped operators.
--
-- Four NOLOGIN group roles, named <prefix><kind>; the prefix is the setting
-- molecule.role_prefix that `molecule-reconciler migrate --role-prefix` passes (default
-- 'molecule_'), recorded in molecule_roles. Roles are cluster-wide: a role that exists already
-- (another database's migrate, or an administrator) is used as it is. Grant them to login roles
-- (`GRANT molecule_operator TO alice`).
--   reconciler  the sidecar: reads spec, secret values and token seeds; writes the status
--               columns of workspaces, the controller tables, leases, events, retired_ingress
--   operator    writes desired state (templates, workspaces' spec columns, secrets, declared
--               and privileged plugins, tenants, platform_paths); reads status; never a secret
--               value (secret_versions shows key, hash, writer and time) nor a token seed
--   platform    the platform's API server: heartbeats (workspace_runtime_status), the secrets a
--               workspace writes for itself (workspace_secrets, written_by 'platform' or
--               'workspace:<its id>'), restart requests (workspaces.restart_requests)
--   viewer      reads what operator reads; writes nothing
--
-- Enforcement is PostgreSQL's privileges, column by column. Where an operator's hand edit would
-- otherwise meet a bare "permission denied", the operator holds the privilege and a statement
-- trigger refuses it with a message that names the table or column and its owner:
--   instances: written only by the molecule_reconciler role (the sidecar), not by alice
--   workspaces.phase: status, written only by the molecule_reconciler role (the sidecar), not by alice
-- (controller tables, leases, events, retired_ingress, and the status columns of workspaces).
-- The trigger functions that keep controller tables in step with the spec run as the schema's
-- owner (SECURITY DEFINER, search_path pinned), so an operator's or the platform's edit still
-- moves generations, creates keys and queues retired ingress.
--
-- Org scopes: org_scopes maps a role to the orgs it may see. A role with no row (itself or any
-- role it has the privileges of) is unscoped and sees every org; a role with rows sees and
-- changes only those orgs' workspaces, secrets, declared plugins, heartbeats, tenants (by
-- tenants.org; a tenant without org is visible to unscoped roles only), controller rows,
-- leases and events, and may not write the shared tables (templates, platform_paths,
-- privileged_plugins). Row-level security, keyed by org; the reconciler's policies are `true`.
--
-- Write-only secrets: INSERT ... ON CONFLICT DO UPDATE SET value = excluded.value needs SELECT
-- on value, so upserts go through molecule_put_workspace_secret / molecule_put_org_secret
-- (security invoker: the caller's privileges and scope apply).
--
-- EXECUTE is revoked from PUBLIC on every function of the schema, now and for functions the
-- owner creates later; each is granted to the roles that call it. CREATE on the schema and
-- TEMPORARY on the database are revoked from PUBLIC: no role but the owner creates objects.
--
-- A table, view, column or function added later needs its grants in its own migration
-- (molecule_grant, molecule_scope_policies); the privilege test fails until it has them.

CREATE TABLE molecule_roles (
    role  text PRIMARY KEY
          CONSTRAINT "molecule_roles.role: must be a known role kind"
          CHECK (role IN ('reconciler', 'operator', 'platform', 'viewer')),
    -- The PostgreSQL role (NOLOGIN group) that plays it.
    name  text NOT NULL CONSTRAINT "molecule_roles.name: already plays another role" UNIQUE
);

DO $$
DECLARE
    prefix text := coalesce(nullif(current_setting('molecule.role_prefix', true), ''), 'molecule_');
    kind text;
    role_name text;
BEGIN
    IF prefix !~ '^[a-z_][a-z0-9_]{0,39}$' THEN
        RAISE EXCEPTION 'molecule.role_prefix: must be at most 40 lowercase letters, digits and underscores, not starting with a digit, got %',
            molecule_quote(prefix) USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOREACH kind IN ARRAY ARRAY['reconciler', 'operator', 'platform', 'viewer'] LOOP
        role_name := prefix || kind;
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = role_name) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN', role_name);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL;  -- another database's migrate created it at the same moment
            END;
        END IF;
        INSERT INTO molecule_roles (role, name) VALUES (kind, role_name);
    END LOOP;
END $$;

-- The PostgreSQL role that plays `kind`.
CREATE FUNCTION molecule_role(kind text) RETURNS text
LANGUAGE sql STABLE AS $$ SELECT name FROM molecule_roles WHERE role = kind $$;

-- GRANT <privileges> ON <object> TO the role of `kind`; for this and later migrations.
CREATE FUNCTION molecule_grant(kind text, privileges text, object text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('GRANT %s ON %s TO %I', privileges, object, molecule_role(kind));
END $$;

-- Which orgs each role may see: see the header. Only the schema's owner writes it.
CREATE TABLE org_scopes (
    role  text NOT NULL,
    org   text NOT NULL,
    CONSTRAINT "org_scopes.org: already in this role's scope" PRIMARY KEY (role, org)
);

CREATE FUNCTION org_scopes_validate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = NEW.role) THEN
        PERFORM molecule_refuse('org_scopes', 'role', 'no role named ' || molecule_quote(NEW.role), 'foreign_key_violation');
    END IF;
    PERFORM molecule_refuse('org_scopes', 'org', molecule_pattern_problem(NEW.org, 63, '^[a-z0-9][a-z0-9-]*$',
        'a lowercase slug ([a-z0-9][a-z0-9-]*)'));
    RETURN NEW;
END $$;

CREATE TRIGGER org_scopes_validate BEFORE INSERT OR UPDATE ON org_scopes
    FOR EACH ROW EXECUTE FUNCTION org_scopes_validate();

-- The orgs the current role is limited to (its own rows and those of every role it has the
-- privileges of); NULL when it is unscoped. A superuser (a member of every role to
-- pg_has_role) is never scoped.
CREATE FUNCTION molecule_scope_orgs() RETURNS text[]
LANGUAGE sql STABLE AS $$
    SELECT array_agg(DISTINCT s.org ORDER BY s.org) FROM org_scopes s JOIN pg_roles r ON r.rolname = s.role
     WHERE pg_has_role(current_user, r.oid, 'USAGE')
       AND NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
$$;

-- Tenants belong to an org (NULL: a platform-level tenant, visible to unscoped roles only).
ALTER TABLE tenants ADD COLUMN org text;
CREATE INDEX tenants_by_org ON tenants (org);

CREATE FUNCTION tenants_org_validate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM molecule_refuse('tenants', 'org', molecule_pattern_problem(NEW.org, 63, '^[a-z0-9][a-z0-9-]*$',
        'a lowercase slug ([a-z0-9][a-z0-9-]*)'));
    RETURN NEW;
END $$;

CREATE TRIGGER tenants_org_validate BEFORE INSERT OR UPDATE OF org ON tenants
    FOR EACH ROW WHEN (NEW.org IS NOT NULL) EXECUTE FUNCTION tenants_org_validate();

-- Refuses a write to a table, or to the column TG_ARGV[1], that the role of kind TG_ARGV[0]
-- owns, unless the current role has that role's privileges or owns the table (the security
-- definer triggers). A statement trigger: it fires even when no row matches.
CREATE FUNCTION molecule_guard_writer() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    owner_role text := molecule_role(TG_ARGV[0]);
    col text := nullif(TG_ARGV[1], '');
BEGIN
    IF pg_has_role(current_user, owner_role, 'USAGE')
       OR pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = TG_RELID), 'USAGE') THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION USING
        MESSAGE = TG_TABLE_NAME || coalesce('.' || col || ': status,', ':') || ' written only by the ' || owner_role
                  || ' role (the sidecar), not by ' || current_user,
        ERRCODE = 'insufficient_privilege', TABLE = TG_TABLE_NAME, COLUMN = coalesce(col, '');
END $$;

DO $$
DECLARE
    tbl text;
    col text;
BEGIN
    FOREACH tbl IN ARRAY ARRAY['instances', 'secret_bundles', 'plugin_installs', 'tunnel_ingress', 'leases', 'events',
                               'retired_ingress'] LOOP
        EXECUTE format('CREATE TRIGGER %I BEFORE INSERT OR UPDATE OR DELETE ON %I
                        FOR EACH STATEMENT EXECUTE FUNCTION molecule_guard_writer(''reconciler'', '''')',
                       tbl || '_writer_guard', tbl);
    END LOOP;
    FOREACH col IN ARRAY ARRAY['phase', 'last_error', 'last_error_at', 'conditions', 'restart_pending'] LOOP
        EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE OF %I ON workspaces
                        FOR EACH STATEMENT EXECUTE FUNCTION molecule_guard_writer(''reconciler'', %L)',
                       'workspaces_' || col || '_writer_guard', col, col);
    END LOOP;
END $$;

-- Secret upserts for roles that may write a value but not read it (see the header). Written by
-- the caller, under its privileges and scope; returns true when the row was new.
CREATE FUNCTION molecule_put_workspace_secret(workspace uuid, secret_key text, secret_value text,
                                              consumed boolean DEFAULT true, author text DEFAULT 'operator')
RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    FOR attempt IN 1..3 LOOP
        UPDATE workspace_secrets SET value = secret_value, runtime_consumed = consumed, written_by = author, written_at = now()
         WHERE workspace_id = workspace AND key = secret_key;
        IF FOUND THEN
            RETURN false;
        END IF;
        BEGIN
            INSERT INTO workspace_secrets (workspace_id, key, value, runtime_consumed, written_by)
            VALUES (workspace, secret_key, secret_value, consumed, author);
            RETURN true;
        EXCEPTION WHEN unique_violation THEN
            NULL;  -- written by someone else since the UPDATE: update it
        END;
    END LOOP;
    -- A row the caller cannot see (another org's, under its scope) keeps the INSERT failing.
    PERFORM molecule_refuse('workspace_secrets', 'key', 'already set for this workspace, in a row this role cannot see',
                            'unique_violation');
    RETURN false;
END $$;

CREATE FUNCTION molecule_put_org_secret(secret_org text, secret_key text, secret_value text,
                                        consumed boolean DEFAULT true, author text DEFAULT 'operator')
RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    FOR attempt IN 1..3 LOOP
        UPDATE org_secrets SET value = secret_value, runtime_consumed = consumed, written_by = author, written_at = now()
         WHERE org = secret_org AND key = secret_key;
        IF FOUND THEN
            RETURN false;
        END IF;
        BEGIN
            INSERT INTO org_secrets (org, key, value, runtime_consumed, written_by)
            VALUES (secret_org, secret_key, secret_value, consumed, author);
            RETURN true;
        EXCEPTION WHEN unique_violation THEN
            NULL;
        END;
    END LOOP;
    PERFORM molecule_refuse('org_secrets', 'key', 'already set for this org, in a row this role cannot see', 'unique_violation');
    RETURN false;
END $$;

-- Each secret without its value: a keyed hash (the key, a per-database random salt, is readable
-- by the schema's owner only) tells whether a value changed, never what it is. Owner's rights
-- (the value is read to hash it), so the org scope is applied here explicitly.
CREATE TABLE molecule_secret_salt (
    salt bytea NOT NULL
);
INSERT INTO molecule_secret_salt (salt) VALUES (convert_to(gen_random_uuid()::text || gen_random_uuid()::text, 'UTF8'));

CREATE VIEW secret_versions WITH (security_barrier) AS
SELECT 'workspace'::text AS scope, w.org, s.workspace_id, w.name AS workspace, s.key, s.runtime_consumed, s.written_by,
       s.written_at, left(encode(sha256(salt.salt || convert_to(s.value, 'UTF8')), 'hex'), 16) AS value_hash
  FROM workspace_secrets s JOIN workspaces w ON w.id = s.workspace_id CROSS JOIN molecule_secret_salt salt
 WHERE (SELECT molecule_scope_orgs()) IS NULL OR w.org = ANY ((SELECT molecule_scope_orgs())::text[])
UNION ALL
SELECT 'org'::text, s.org, NULL::uuid, NULL::text, s.key, s.runtime_consumed, s.written_by,
       s.written_at, left(encode(sha256(salt.salt || convert_to(s.value, 'UTF8')), 'hex'), 16)
  FROM org_secrets s CROSS JOIN molecule_secret_salt salt
 WHERE (SELECT molecule_scope_orgs()) IS NULL OR s.org = ANY ((SELECT molecule_scope_orgs())::text[]);

-- The path-status view reads tenants and controller rows: under the reader's own privileges
-- and org scope.
ALTER VIEW platform_paths_status SET (security_invoker = true);

-- Trigger functions that write controller tables, leases or retired_ingress when someone else's
-- statement fires them run as the owner, with a fixed search_path, and so does every function
-- the row-level security or the guards rely on. The per-row validation triggers are left
-- unpinned: a SET search_path on workspaces_validate made a status write of 10,000 rows take
-- 3.2-5.4 s instead of 1.5-2.1 s. Nothing can stand in for a relation they name instead: no role
-- but the owner may create objects (CREATE on the schema and TEMPORARY on the database are
-- revoked from PUBLIC below), so no temporary table shadows one of the schema's.
DO $$
DECLARE
    fn text;
    path text := format('%I, pg_temp', current_schema());
BEGIN
    FOREACH fn IN ARRAY ARRAY['workspaces_changed()', 'bundle_inputs_changed()', 'plugin_inputs_changed()',
                              'ingress_inputs_changed()', 'instances_target_moved()', 'lifecycle_chain()',
                              'runtime_status_changed()', 'tenants_retire_ingress()', 'molecule_controller_keys_changed()'] LOOP
        EXECUTE format('ALTER FUNCTION %s SECURITY DEFINER SET search_path = %s', fn, path);
    END LOOP;
    FOREACH fn IN ARRAY ARRAY['molecule_bump(text, uuid[])', 'molecule_register_controller(text)',
                              'molecule_attach_input_triggers(text, text)', 'molecule_role(text)',
                              'molecule_grant(text, text, text)', 'org_scopes_validate()', 'molecule_scope_orgs()',
                              'molecule_guard_writer()', 'molecule_put_workspace_secret(uuid, text, text, boolean, text)',
                              'molecule_put_org_secret(text, text, text, boolean, text)'] LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = %s', fn, path);
    END LOOP;
END $$;

-- Row-level security by org. `scope` is the row's org expression; the reconciler's policy is
-- `true`; operator, viewer and platform (each only where it has privileges) see the rows of
-- their orgs, or every row when unscoped.
CREATE FUNCTION molecule_scope_policies(tbl text, org_of_row text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    visible text := format('(SELECT molecule_scope_orgs()) IS NULL OR (%s) = ANY ((SELECT molecule_scope_orgs())::text[])', org_of_row);
BEGIN
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', tbl);
    EXECUTE format('CREATE POLICY reconciler ON %I TO %I USING (true) WITH CHECK (true)', tbl, molecule_role('reconciler'));
    EXECUTE format('CREATE POLICY org_scope ON %I TO %I, %I, %I USING (%s) WITH CHECK (%s)', tbl,
                   molecule_role('operator'), molecule_role('viewer'), molecule_role('platform'), visible, visible);
END $$;

SELECT molecule_scope_policies('workspaces', 'org');
SELECT molecule_scope_policies('org_secrets', 'org');
SELECT molecule_scope_policies('tenants', 'org');
SELECT molecule_scope_policies(t, format('(SELECT w.org FROM %I.workspaces w WHERE w.id = %I.%I)', current_schema(), t, c))
  FROM (VALUES ('workspace_secrets', 'workspace_id'), ('workspace_declared_plugins', 'workspace_id'),
               ('workspace_runtime_status', 'workspace_id'), ('instances', 'key'), ('secret_bundles', 'key'),
               ('plugin_installs', 'key')) AS keyed (t, c);
SELECT molecule_scope_policies('tunnel_ingress',
                               format('(SELECT t.org FROM %I.tenants t WHERE t.id = tunnel_ingress.key)', current_schema()));
SELECT molecule_scope_policies(tbl, format('coalesce((SELECT w.org FROM %1$I.workspaces w WHERE w.id = %2$I.key),
                                                     (SELECT t.org FROM %1$I.tenants t WHERE t.id = %2$I.key))',
                                           current_schema(), tbl))
  FROM unnest(ARRAY['events', 'leases']) AS tbl;
-- A retired (tunnel, hostname) pair has no org left: unscoped roles only.
SELECT molecule_scope_policies('retired_ingress', 'NULL::text');

-- Who wrote a secret is part of its meaning (a workspace's own write is never auto-restarted):
-- an operator writes as 'operator', the platform as 'platform' or as the workspace itself.
DO $$
BEGIN
    EXECUTE format('CREATE POLICY operator_author ON workspace_secrets AS RESTRICTIVE FOR INSERT TO %I
                    WITH CHECK (written_by = ''operator'' OR pg_has_role(current_user, %L, ''USAGE''))',
                   molecule_role('operator'), molecule_role('platform'));
    EXECUTE format('CREATE POLICY operator_author_update ON workspace_secrets AS RESTRICTIVE FOR UPDATE TO %I
                    USING (true) WITH CHECK (written_by = ''operator'' OR pg_has_role(current_user, %L, ''USAGE''))',
                   molecule_role('operator'), molecule_role('platform'));
    EXECUTE format('CREATE POLICY platform_author ON workspace_secrets AS RESTRICTIVE FOR INSERT TO %I
                    WITH CHECK (written_by IN (''platform'', ''workspace:'' || workspace_id) OR pg_has_role(current_user, %L, ''USAGE''))',
                   molecule_role('platform'), molecule_role('operator'));
    EXECUTE format('CREATE POLICY platform_author_update ON workspace_secrets AS RESTRICTIVE FOR UPDATE TO %I
                    USING (true) WITH CHECK (written_by IN (''platform'', ''workspace:'' || workspace_id) OR pg_has_role(current_user, %L, ''USAGE''))',
                   molecule_role('platform'), molecule_role('operator'));
    EXECUTE format('CREATE POLICY operator_author ON org_secrets AS RESTRICTIVE FOR INSERT TO %I WITH CHECK (written_by = ''operator'')',
                   molecule_role('operator'));
    EXECUTE format('CREATE POLICY operator_author_update ON org_secrets AS RESTRICTIVE FOR UPDATE TO %I
                    USING (true) WITH CHECK (written_by = ''operator'')', molecule_role('operator'));
END $$;

-- Shared tables: every role that reads them sees every row; only unscoped operators write.
DO $$
DECLARE
    tbl text;
BEGIN
    FOREACH tbl IN ARRAY ARRAY['templates', 'platform_paths', 'privileged_plugins'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', tbl);
        EXECUTE format('CREATE POLICY reconciler ON %I TO %I USING (true) WITH CHECK (true)', tbl, molecule_role('reconciler'));
        EXECUTE format('CREATE POLICY readers ON %I FOR SELECT TO %I, %I USING (true)', tbl,
                       molecule_role('operator'), molecule_role('viewer'));
        EXECUTE format('CREATE POLICY unscoped_writers ON %I TO %I USING ((SELECT molecule_scope_orgs()) IS NULL)
                        WITH CHECK ((SELECT molecule_scope_orgs()) IS NULL)', tbl, molecule_role('operator'));
    END LOOP;
END $$;

-- A role sees its own scope rows only.
ALTER TABLE org_scopes ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_rows ON org_scopes FOR SELECT
    USING (EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname = role AND pg_has_role(current_user, r.oid, 'USAGE')));

-- Privileges. Nothing for PUBLIC: no function, no DDL, no temporary table.
DO $$
BEGIN
    EXECUTE format('REVOKE CREATE ON SCHEMA %I FROM PUBLIC', current_schema());
    EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
    EXECUTE format('REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA %I FROM PUBLIC', current_schema());
END $$;
ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

DO $$
DECLARE
    kind text;
    schema text := quote_ident(current_schema());
BEGIN
    FOREACH kind IN ARRAY ARRAY['reconciler', 'operator', 'platform', 'viewer'] LOOP
        PERFORM molecule_grant(kind, 'USAGE', 'SCHEMA ' || schema);
        PERFORM molecule_grant(kind, 'SELECT', 'TABLE molecule_roles, org_scopes');
        PERFORM molecule_grant(kind, 'EXECUTE', 'FUNCTION molecule_role(text), molecule_scope_orgs()');
    END LOOP;
    -- The pure helpers the validation triggers call, under the role whose write fires them.
    FOREACH kind IN ARRAY ARRAY['reconciler', 'operator', 'platform'] LOOP
        PERFORM molecule_grant(kind, 'EXECUTE', 'FUNCTION molecule_quote(text), molecule_control_class(),
            molecule_whitespace_class(), molecule_text_problem(text, integer, text),
            molecule_pattern_problem(text, integer, text, text, boolean), molecule_refuse(text, text, text, text),
            molecule_null_problem(boolean), molecule_template_path_problem(text), molecule_path_pattern_is_valid(text)');
    END LOOP;
    FOREACH kind IN ARRAY ARRAY['reconciler', 'operator', 'viewer'] LOOP
        PERFORM molecule_grant(kind, 'SELECT', 'TABLE schema_migrations, platform_paths_status');
    END LOOP;

    -- reconciler: reads everything it converges from, writes status and its own tables.
    PERFORM molecule_grant('reconciler', 'SELECT', 'TABLE templates, workspaces, workspace_secrets, org_secrets,
        privileged_plugins, workspace_declared_plugins, tenants, platform_paths, workspace_runtime_status, instances,
        secret_bundles, plugin_installs, tunnel_ingress, leases, events, retired_ingress');
    PERFORM molecule_grant('reconciler', 'UPDATE (phase, last_error, last_error_at, conditions, restart_pending)', 'TABLE workspaces');
    PERFORM molecule_grant('reconciler', 'UPDATE', 'TABLE instances, secret_bundles, plugin_installs, tunnel_ingress, retired_ingress');
    PERFORM molecule_grant('reconciler', 'INSERT, UPDATE', 'TABLE leases, events');
    PERFORM molecule_grant('reconciler', 'DELETE', 'TABLE retired_ingress');
    PERFORM molecule_grant('reconciler', 'USAGE', 'SEQUENCE events_id_seq');
    PERFORM molecule_grant('reconciler', 'EXECUTE', 'FUNCTION molecule_bump(text, uuid[]), molecule_notify(text, uuid[]),
        molecule_set_condition(jsonb, jsonb, timestamptz), molecule_workspace_error(text, text, text)');

    -- operator: desired state; status read-only; secret values write-only.
    PERFORM molecule_grant('operator', 'SELECT, INSERT, UPDATE, DELETE', 'TABLE templates, privileged_plugins,
        workspace_declared_plugins, tenants, platform_paths');
    PERFORM molecule_grant('operator', 'SELECT, DELETE', 'TABLE workspaces');
    PERFORM molecule_grant('operator', 'INSERT (id, org, name, kind, template, image, desired_state, restart_requests, restart_policy)',
        'TABLE workspaces');
    -- The status columns are granted so that their guard, not a bare "permission denied", answers.
    PERFORM molecule_grant('operator', 'UPDATE (org, name, kind, template, image, desired_state, restart_requests, restart_policy,
        phase, last_error, last_error_at, conditions, restart_pending)', 'TABLE workspaces');
    PERFORM molecule_grant('operator', 'SELECT (workspace_id, key, runtime_consumed, written_by, written_at)', 'TABLE workspace_secrets');
    PERFORM molecule_grant('operator', 'INSERT (workspace_id, key, value, runtime_consumed, written_by)', 'TABLE workspace_secrets');
    PERFORM molecule_grant('operator', 'UPDATE (key, value, runtime_consumed, written_by, written_at)', 'TABLE workspace_secrets');
    PERFORM molecule_grant('operator', 'SELECT (org, key, runtime_consumed, written_by, written_at)', 'TABLE org_secrets');
    PERFORM molecule_grant('operator', 'INSERT (org, key, value, runtime_consumed, written_by)', 'TABLE org_secrets');
    PERFORM molecule_grant('operator', 'UPDATE (key, value, runtime_consumed, written_by, written_at)', 'TABLE org_secrets');
    PERFORM molecule_grant('operator', 'DELETE', 'TABLE workspace_secrets, org_secrets');
    PERFORM molecule_grant('operator', 'SELECT', 'TABLE workspace_runtime_status, instances, plugin_installs, tunnel_ingress,
        leases, events, retired_ingress, secret_versions');
    PERFORM molecule_grant('operator', 'SELECT (key, desired_generation, observed_generation, staged_hash, staged_version, staged_at,
        last_error, last_error_at, attempts, next_attempt_at, staged_generation, staged_runtime_hash)', 'TABLE secret_bundles');
    -- Held so that the guard names the owner (see the header).
    PERFORM molecule_grant('operator', 'INSERT, UPDATE, DELETE', 'TABLE instances, secret_bundles, plugin_installs, tunnel_ingress,
        leases, events, retired_ingress');
    PERFORM molecule_grant('operator', 'EXECUTE', 'FUNCTION molecule_put_workspace_secret(uuid, text, text, boolean, text),
        molecule_put_org_secret(text, text, text, boolean, text)');

    -- platform: heartbeats, a workspace's own secrets, restart requests.
    PERFORM molecule_grant('platform', 'SELECT', 'TABLE workspaces');
    PERFORM molecule_grant('platform', 'UPDATE (restart_requests)', 'TABLE workspaces');
    PERFORM molecule_grant('platform', 'SELECT, INSERT, UPDATE, DELETE', 'TABLE workspace_runtime_status');
    PERFORM molecule_grant('platform', 'SELECT (workspace_id, key, runtime_consumed, written_by, written_at)', 'TABLE workspace_secrets');
    PERFORM molecule_grant('platform', 'INSERT (workspace_id, key, value, runtime_consumed, written_by)', 'TABLE workspace_secrets');
    PERFORM molecule_grant('platform', 'UPDATE (value, runtime_consumed, written_by, written_at), DELETE', 'TABLE workspace_secrets');
    PERFORM molecule_grant('platform', 'EXECUTE', 'FUNCTION molecule_put_workspace_secret(uuid, text, text, boolean, text)');

    -- viewer: what operator reads.
    PERFORM molecule_grant('viewer', 'SELECT', 'TABLE templates, workspaces, privileged_plugins, workspace_declared_plugins,
        tenants, platform_paths, workspace_runtime_status, instances, plugin_installs, tunnel_ingress, leases, events,
        retired_ingress, secret_versions');
    PERFORM molecule_grant('viewer', 'SELECT (workspace_id, key, runtime_consumed, written_by, written_at)', 'TABLE workspace_secrets');
    PERFORM molecule_grant('viewer', 'SELECT (org, key, runtime_consumed, written_by, written_at)', 'TABLE org_secrets');
    PERFORM molecule_grant('viewer', 'SELECT (key, desired_generation, observed_generation, staged_hash, staged_version, staged_at,
        last_error, last_error_at, attempts, next_attempt_at, staged_generation, staged_runtime_hash)', 'TABLE secret_bundles');
END $$;
