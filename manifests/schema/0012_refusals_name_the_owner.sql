-- Every refused write names the table or column and the role that owns it (issue 17).
--
-- Schema 0010 guarded the operator's writes to controller tables and status columns; every
-- other refused write (the platform setting workspaces.phase, the sidecar inserting a template,
-- a viewer deleting an event, anyone's TRUNCATE, an operator inserting a workspace with its
-- phase) still met PostgreSQL's bare "permission denied for table workspaces", which names
-- neither the column nor who may write it. Now every role holds INSERT, UPDATE, DELETE and
-- TRUNCATE where it is refused them, and a guard refuses the statement before any row is read
-- or written, naming the owner:
--   templates: rows inserted only by the molecule_operator role, not by sidecar
--   workspaces.phase: status, written only by the molecule_reconciler role (the sidecar), not by api
--   workspaces.restart_requests: written only by the molecule_operator and molecule_platform roles, not by dash
--   instances: rows inserted only by the schema's owner postgres (migrate and its triggers), not by sidecar
--   events: truncated only by the schema's owner postgres (migrate and its triggers), not by sidecar
--
-- What holding a guarded privilege does not give: a read (UPDATE and DELETE read no column
-- without SELECT on it, so a secret value or token seed stays unreadable), a write (the guard is
-- a BEFORE statement trigger: it fires before the first row is fetched, for INSERT, UPDATE,
-- DELETE, INSERT ... ON CONFLICT, MERGE, COPY FROM and TRUNCATE, including TRUNCATE ... CASCADE,
-- whose BEFORE TRUNCATE triggers all fire before any table is emptied; only the table's owner or
-- a superuser can disable a trigger). Tables whose writers differ by column (workspaces,
-- workspace_secrets, org_secrets) are guarded column by column (BEFORE UPDATE OF <column>), and
-- hold column privileges only, on the columns guarded here: a column added later has no grant
-- and no guard until its migration gives it both. An operator inserting a workspace may not set
-- its status or timestamps: a row trigger refuses a value other than the column's default.
-- Behind the guards, restrictive row-level policies (below) let a role write no row of a table
-- it may not insert, update or delete, so that a guard dropped by mistake changes no row.
--
-- The sidecar's privilege check compares privileges, which no longer tell the roles' writes
-- apart; it also reports membership of operator, platform or viewer (ReconcileStore's
-- PrivilegeCheck).

-- TG_ARGV: [0] the role kinds that may do this (comma-separated; '': the table's owner only),
-- [1] the column ('' for the table). Admits the owner's triggers and those kinds' members.
CREATE OR REPLACE FUNCTION molecule_guard_writer() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    kinds text[] := array_remove(string_to_array(TG_ARGV[0], ','), '');
    col text := nullif(TG_ARGV[1], '');
    owner_oid oid := (SELECT relowner FROM pg_class WHERE oid = TG_RELID);
    writers text[];
BEGIN
    IF pg_has_role(current_user, owner_oid, 'USAGE') THEN
        RETURN NULL;
    END IF;
    writers := ARRAY(SELECT molecule_role(k) FROM unnest(kinds) AS k);
    IF EXISTS (SELECT 1 FROM unnest(writers) AS w WHERE pg_has_role(current_user, w, 'USAGE')) THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION USING
        MESSAGE = molecule_write_refusal(TG_TABLE_NAME, col, kinds, TG_OP, owner_oid),
        ERRCODE = 'insufficient_privilege', TABLE = TG_TABLE_NAME, COLUMN = coalesce(col, '');
END $$;

-- The message: "<table>[.<column>]: [status, ]<verb> only by <owners>, not by <current_user>".
-- A column written by the sidecar alone is status.
CREATE FUNCTION molecule_write_refusal(tbl text, col text, kinds text[], operation text, owner_oid oid)
RETURNS text LANGUAGE sql STABLE AS $$
    SELECT tbl || coalesce('.' || col, '') || ': '
           || CASE WHEN col IS NOT NULL AND kinds = ARRAY['reconciler'] THEN 'status, ' ELSE '' END
           || CASE operation WHEN 'INSERT' THEN 'rows inserted' WHEN 'DELETE' THEN 'rows deleted'
                             WHEN 'TRUNCATE' THEN 'truncated' ELSE 'written' END
           || ' only by '
           || CASE cardinality(kinds)
                  WHEN 0 THEN 'the schema''s owner ' || pg_get_userbyid(owner_oid) || ' (migrate and its triggers)'
                  WHEN 1 THEN 'the ' || molecule_role(kinds[1]) || ' role'
                              || CASE kinds[1] WHEN 'reconciler' THEN ' (the sidecar)' ELSE '' END
                  ELSE 'the ' || array_to_string(ARRAY(SELECT molecule_role(k) FROM unnest(kinds[1:cardinality(kinds) - 1]) AS k), ', ')
                       || ' and ' || molecule_role(kinds[cardinality(kinds)]) || ' roles'
              END
           || ', not by ' || current_user
$$;

-- An operator's INSERT INTO workspaces may name only spec columns: a status column or a
-- timestamp given a value other than its default is refused like an UPDATE of it.
CREATE FUNCTION workspaces_insert_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    col text;
BEGIN
    IF pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = TG_RELID), 'USAGE')
       OR pg_has_role(current_user, molecule_role('reconciler'), 'USAGE') THEN
        RETURN NEW;
    END IF;
    col := CASE
        WHEN NEW.phase IS DISTINCT FROM 'pending' THEN 'phase'
        WHEN NEW.last_error IS NOT NULL THEN 'last_error'
        WHEN NEW.last_error_at IS NOT NULL THEN 'last_error_at'
        WHEN NEW.conditions IS DISTINCT FROM '{}'::jsonb THEN 'conditions'
        WHEN NEW.restart_pending IS DISTINCT FROM false THEN 'restart_pending'
        WHEN NEW.created_at IS DISTINCT FROM now() THEN 'created_at'
        WHEN NEW.updated_at IS DISTINCT FROM now() THEN 'updated_at'
    END;
    IF col IS NULL THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION USING
        MESSAGE = molecule_write_refusal('workspaces', col,
                                         CASE WHEN col IN ('created_at', 'updated_at') THEN '{}'::text[] ELSE ARRAY['reconciler'] END,
                                         'UPDATE', (SELECT relowner FROM pg_class WHERE oid = TG_RELID)),
        ERRCODE = 'insufficient_privilege', TABLE = 'workspaces', COLUMN = col;
END $$;

-- The guards of schema 0010 are replaced by the complete set below.
DO $$
DECLARE
    tbl text;
    col text;
BEGIN
    FOREACH tbl IN ARRAY ARRAY['instances', 'secret_bundles', 'plugin_installs', 'tunnel_ingress', 'leases', 'events',
                               'retired_ingress'] LOOP
        EXECUTE format('DROP TRIGGER %I ON %I', tbl || '_writer_guard', tbl);
    END LOOP;
    FOREACH col IN ARRAY ARRAY['phase', 'last_error', 'last_error_at', 'conditions', 'restart_pending'] LOOP
        EXECUTE format('DROP TRIGGER %I ON workspaces', 'workspaces_' || col || '_writer_guard');
    END LOOP;
END $$;

-- Who may write what: (table, operation, column or '', kinds). Every table of the schema, every
-- write; an operation of a table not listed per column is guarded as a whole.
CREATE TEMPORARY TABLE molecule_writers (tbl text, operation text, col text, kinds text) ON COMMIT DROP;
INSERT INTO molecule_writers (tbl, operation, col, kinds) VALUES
    ('events', 'INSERT', '', 'reconciler'), ('events', 'UPDATE', '', 'reconciler'), ('events', 'DELETE', '', ''),
    ('instances', 'INSERT', '', ''), ('instances', 'UPDATE', '', 'reconciler'), ('instances', 'DELETE', '', ''),
    ('leases', 'INSERT', '', 'reconciler'), ('leases', 'UPDATE', '', 'reconciler'), ('leases', 'DELETE', '', ''),
    ('molecule_roles', 'INSERT', '', ''), ('molecule_roles', 'UPDATE', '', ''), ('molecule_roles', 'DELETE', '', ''),
    ('molecule_secret_salt', 'INSERT', '', ''), ('molecule_secret_salt', 'UPDATE', '', ''),
    ('molecule_secret_salt', 'DELETE', '', ''),
    ('org_scopes', 'INSERT', '', ''), ('org_scopes', 'UPDATE', '', ''), ('org_scopes', 'DELETE', '', ''),
    ('org_secrets', 'INSERT', '', 'operator'), ('org_secrets', 'DELETE', '', 'operator'),
    ('org_secrets', 'UPDATE', 'org', ''), ('org_secrets', 'UPDATE', 'key', 'operator'),
    ('org_secrets', 'UPDATE', 'value', 'operator'), ('org_secrets', 'UPDATE', 'runtime_consumed', 'operator'),
    ('org_secrets', 'UPDATE', 'written_by', 'operator'), ('org_secrets', 'UPDATE', 'written_at', 'operator'),
    ('platform_paths', 'INSERT', '', 'operator'), ('platform_paths', 'UPDATE', '', 'operator'),
    ('platform_paths', 'DELETE', '', 'operator'),
    ('plugin_installs', 'INSERT', '', ''), ('plugin_installs', 'UPDATE', '', 'reconciler'),
    ('plugin_installs', 'DELETE', '', ''),
    ('privileged_plugins', 'INSERT', '', 'operator'), ('privileged_plugins', 'UPDATE', '', 'operator'),
    ('privileged_plugins', 'DELETE', '', 'operator'),
    ('retired_ingress', 'INSERT', '', ''), ('retired_ingress', 'UPDATE', '', 'reconciler'),
    ('retired_ingress', 'DELETE', '', 'reconciler'),
    ('schema_migrations', 'INSERT', '', ''), ('schema_migrations', 'UPDATE', '', ''),
    ('schema_migrations', 'DELETE', '', ''),
    ('secret_bundles', 'INSERT', '', ''), ('secret_bundles', 'UPDATE', '', 'reconciler'),
    ('secret_bundles', 'DELETE', '', ''),
    ('templates', 'INSERT', '', 'operator'), ('templates', 'UPDATE', '', 'operator'), ('templates', 'DELETE', '', 'operator'),
    ('tenants', 'INSERT', '', 'operator'), ('tenants', 'UPDATE', '', 'operator'), ('tenants', 'DELETE', '', 'operator'),
    ('tunnel_ingress', 'INSERT', '', ''), ('tunnel_ingress', 'UPDATE', '', 'reconciler'),
    ('tunnel_ingress', 'DELETE', '', ''),
    ('workspace_declared_plugins', 'INSERT', '', 'operator'), ('workspace_declared_plugins', 'UPDATE', '', 'operator'),
    ('workspace_declared_plugins', 'DELETE', '', 'operator'),
    ('workspace_runtime_status', 'INSERT', '', 'platform'), ('workspace_runtime_status', 'UPDATE', '', 'platform'),
    ('workspace_runtime_status', 'DELETE', '', 'platform'),
    ('workspace_secrets', 'INSERT', '', 'operator,platform'), ('workspace_secrets', 'DELETE', '', 'operator,platform'),
    ('workspace_secrets', 'UPDATE', 'workspace_id', ''), ('workspace_secrets', 'UPDATE', 'key', 'operator'),
    ('workspace_secrets', 'UPDATE', 'value', 'operator,platform'),
    ('workspace_secrets', 'UPDATE', 'runtime_consumed', 'operator,platform'),
    ('workspace_secrets', 'UPDATE', 'written_by', 'operator,platform'),
    ('workspace_secrets', 'UPDATE', 'written_at', 'operator,platform'),
    ('workspaces', 'INSERT', '', 'operator'), ('workspaces', 'DELETE', '', 'operator'),
    ('workspaces', 'UPDATE', 'id', ''), ('workspaces', 'UPDATE', 'created_at', ''), ('workspaces', 'UPDATE', 'updated_at', ''),
    ('workspaces', 'UPDATE', 'org', 'operator'), ('workspaces', 'UPDATE', 'name', 'operator'),
    ('workspaces', 'UPDATE', 'kind', 'operator'), ('workspaces', 'UPDATE', 'template', 'operator'),
    ('workspaces', 'UPDATE', 'image', 'operator'), ('workspaces', 'UPDATE', 'desired_state', 'operator'),
    ('workspaces', 'UPDATE', 'restart_policy', 'operator'), ('workspaces', 'UPDATE', 'restart_requests', 'operator,platform'),
    ('workspaces', 'UPDATE', 'phase', 'reconciler'), ('workspaces', 'UPDATE', 'last_error', 'reconciler'),
    ('workspaces', 'UPDATE', 'last_error_at', 'reconciler'), ('workspaces', 'UPDATE', 'conditions', 'reconciler'),
    ('workspaces', 'UPDATE', 'restart_pending', 'reconciler');

-- Every table and every write is listed above: a table of the schema that is not is an error
-- here, not a table nobody guards.
DO $$
DECLARE
    missing text;
BEGIN
    SELECT string_agg(c.relname || ' ' || op, ', ') INTO missing
      FROM pg_class c CROSS JOIN unnest(ARRAY['INSERT', 'UPDATE', 'DELETE']) AS op
     WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p')
       AND NOT EXISTS (SELECT 1 FROM molecule_writers w WHERE w.tbl = c.relname AND w.operation = op);
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'schema 0012: no writers declared for %', missing;
    END IF;
END $$;

-- The guards, and the guarded privileges for every role not among a write's writers.
DO $$
DECLARE
    w record;
    kind text;
    kinds text[];
BEGIN
    FOR w IN SELECT * FROM molecule_writers ORDER BY tbl, operation, col LOOP
        kinds := array_remove(string_to_array(w.kinds, ','), '');
        IF w.col = '' THEN
            EXECUTE format('CREATE TRIGGER %I BEFORE %s ON %I FOR EACH STATEMENT EXECUTE FUNCTION molecule_guard_writer(%L, %L)',
                           w.tbl || '_' || lower(w.operation) || '_guard', w.operation, w.tbl, w.kinds, '');
        ELSE
            EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE OF %I ON %I FOR EACH STATEMENT EXECUTE FUNCTION molecule_guard_writer(%L, %L)',
                           w.tbl || '_' || w.col || '_guard', w.col, w.tbl, w.kinds, w.col);
        END IF;
        FOREACH kind IN ARRAY ARRAY['reconciler', 'operator', 'platform', 'viewer'] LOOP
            CONTINUE WHEN kind = ANY (kinds);
            IF w.col <> '' THEN
                PERFORM molecule_grant(kind, format('UPDATE (%I)', w.col), format('TABLE %I', w.tbl));
            ELSIF w.tbl IN ('workspaces', 'workspace_secrets', 'org_secrets') AND w.operation = 'INSERT' THEN
                PERFORM molecule_grant(kind, format('INSERT (%s)', (
                    SELECT string_agg(quote_ident(a.attname), ', ') FROM pg_attribute a
                     WHERE a.attrelid = w.tbl::regclass AND a.attnum > 0 AND NOT a.attisdropped)), format('TABLE %I', w.tbl));
            ELSE
                PERFORM molecule_grant(kind, w.operation, format('TABLE %I', w.tbl));
            END IF;
        END LOOP;
    END LOOP;
    -- TRUNCATE: the owner's alone, on every table.
    FOR w IN SELECT DISTINCT tbl FROM molecule_writers LOOP
        EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON %I FOR EACH STATEMENT EXECUTE FUNCTION molecule_guard_writer(%L, %L)',
                       w.tbl || '_truncate_guard', w.tbl, '', '');
        FOREACH kind IN ARRAY ARRAY['reconciler', 'operator', 'platform', 'viewer'] LOOP
            PERFORM molecule_grant(kind, 'TRUNCATE', format('TABLE %I', w.tbl));
        END LOOP;
    END LOOP;
END $$;

-- Behind the guards, row-level security: on every table that has it, a role that may not insert,
-- update or delete there meets a restrictive policy that lets no row through unless it is also
-- a member of a role that may (an UPDATE of a table guarded by column: roles that may update no
-- column of it). Were a guard missing, such a write would change no row instead of every row.
DO $$
DECLARE
    w record;
    kinds text[];
    others text[];
    writers text;
BEGIN
    FOR w IN
        SELECT m.tbl, m.operation, array_agg(DISTINCT k) FILTER (WHERE k IS NOT NULL) AS kinds
          FROM molecule_writers m LEFT JOIN LATERAL unnest(array_remove(string_to_array(m.kinds, ','), '')) AS k ON true
          JOIN pg_class c ON c.relname = m.tbl AND c.relnamespace = current_schema()::regnamespace AND c.relrowsecurity
         GROUP BY m.tbl, m.operation ORDER BY 1, 2
    LOOP
        kinds := coalesce(w.kinds, '{}');
        others := ARRAY(SELECT k FROM unnest(ARRAY['reconciler', 'operator', 'platform', 'viewer']) AS k WHERE k <> ALL (kinds));
        CONTINUE WHEN cardinality(others) = 0;
        writers := coalesce((SELECT string_agg(format('pg_has_role(current_user, %L, ''USAGE'')', molecule_role(k)), ' OR ')
                               FROM unnest(kinds) AS k), 'false');
        EXECUTE format('CREATE POLICY %I ON %I AS RESTRICTIVE FOR %s TO %s %s', lower(w.operation) || '_by_writers_only', w.tbl,
                       w.operation, (SELECT string_agg(quote_ident(molecule_role(k)), ', ') FROM unnest(others) AS k),
                       CASE w.operation WHEN 'INSERT' THEN format('WITH CHECK (%s)', writers)
                                        WHEN 'UPDATE' THEN format('USING (%s) WITH CHECK (%s)', writers, writers)
                                        ELSE format('USING (%s)', writers) END);
    END LOOP;
END $$;

-- The operator inserts workspaces, and the secrets' written_at too (it may update it anyway).
-- The row guard fires before workspaces_validate (triggers fire in name order).
CREATE TRIGGER workspaces_insert_columns_guard BEFORE INSERT ON workspaces
    FOR EACH ROW EXECUTE FUNCTION workspaces_insert_guard();
DO $$
BEGIN
    PERFORM molecule_grant('operator', 'INSERT (created_at, updated_at, phase, last_error, last_error_at, conditions, restart_pending)',
                           'TABLE workspaces');
    PERFORM molecule_grant('operator', 'INSERT (written_at)', 'TABLE workspace_secrets, org_secrets');
    PERFORM molecule_grant('platform', 'INSERT (written_at)', 'TABLE workspace_secrets');
END $$;

-- The statement guards and the message get a fixed search_path; the row guard of workspaces'
-- inserts does not (a SET on a per-row function costs every row; see schema 0010).
DO $$
DECLARE
    path text := format('%I, pg_temp', current_schema());
BEGIN
    EXECUTE format('ALTER FUNCTION molecule_guard_writer() SET search_path = %s', path);
    EXECUTE format('ALTER FUNCTION molecule_write_refusal(text, text, text[], text, oid) SET search_path = %s', path);
END $$;
-- Trigger functions need no EXECUTE; the message builder is the triggers'. The guards call
-- molecule_write_refusal under the caller's rights: every role executes it (it reads nothing
-- but role names).
REVOKE EXECUTE ON FUNCTION molecule_write_refusal(text, text, text[], text, oid), workspaces_insert_guard() FROM PUBLIC;
DO $$
DECLARE
    kind text;
BEGIN
    FOREACH kind IN ARRAY ARRAY['reconciler', 'operator', 'platform', 'viewer'] LOOP
        PERFORM molecule_grant(kind, 'EXECUTE', 'FUNCTION molecule_write_refusal(text, text, text[], text, oid)');
    END LOOP;
END $$;

-- The platform reads and writes workspaces, workspace_secrets and workspace_runtime_status
-- only: elsewhere it has no row-level policy, so that besides the guard no row of those tables
-- is visible or writable to it (and their policies, which read tenants, are not evaluated under
-- a role that may not read tenants: that made its refused writes a bare "permission denied for
-- table tenants").
DO $$
DECLARE
    tbl text;
BEGIN
    FOREACH tbl IN ARRAY ARRAY['org_secrets', 'tenants', 'workspace_declared_plugins', 'instances', 'secret_bundles',
                               'plugin_installs', 'tunnel_ingress', 'events', 'leases', 'retired_ingress'] LOOP
        EXECUTE format('ALTER POLICY org_scope ON %I TO %I, %I', tbl, molecule_role('operator'), molecule_role('viewer'));
    END LOOP;
END $$;
