-- Input hardening (issue 9): every text column of the spec tables has a form and a length
-- limit, checked at write time by the table's BEFORE trigger with a message
-- '<table>.<column>: <reason>' (ERRCODE and COLUMN set), never by a generic error.
--
-- Forms:
--   slug   lowercase identifier, a regular expression per column (below)
--   line   one line of display text: not empty or only whitespace, no control characters, no
--          leading or trailing whitespace
--   token  not empty, no whitespace and no control characters anywhere
--   note   may be empty, no control characters
-- "Whitespace" is Unicode's White_Space plus the invisible U+180E, U+200B-U+200D, U+2060 and
-- U+FEFF; "control characters" are U+0001-U+001F, U+007F-U+009F, the line and paragraph
-- separators U+2028/U+2029 and the bidirectional controls U+061C, U+200E, U+200F,
-- U+202A-U+202E, U+2066-U+2069 (each can forge a log line or reorder what an operator reads).
--
-- Limits (characters unless bytes are said):
--   workspaces.org, org_secrets.org     slug [a-z0-9][a-z0-9-]*, 63
--   workspaces.name                     line, 128
--   workspaces.image                    token, 512
--   workspaces.conditions               a JSON object (also a CHECK constraint)
--   templates.name                      slug [a-z0-9][a-z0-9-]*, 63
--   templates.files                     a JSON object of path -> string; paths as
--                                       WorkspaceModel.TemplateFiles: config.yaml or prompts/**,
--                                       relative, no '.' or '..' segment, no empty segment, no
--                                       backslash or control character, 255 bytes; 256 KiB per
--                                       file, 1 MiB in all (bytes)
--   *_secrets.key                       environment-variable name, 128
--   *_secrets.value                     any text, 65,536 bytes
--   workspace_declared_plugins.plugin,
--   privileged_plugins.name             [a-z0-9][a-z0-9._-]*, 128
--   workspace_declared_plugins.ref      token, 512
--   privileged_plugins.reason           note, 1,024
--   tenants.name                        line, 63
--   tenants.hostname                    lowercase DNS name, 253, one tenant per hostname
--   tenants.tunnel_id                   [A-Za-z0-9][A-Za-z0-9_-]*, 128 (Providers.TunnelID: what
--                                       every tunnel provider accepts, a directory name for
--                                       the local one)
--   tenants.services                    a JSON object of service name ([a-z][a-z0-9_-]*, 63) ->
--                                       URL (token, 512)
--   platform_paths.pattern              IngressModel.PathPattern: absolute, segments
--                                       [A-Za-z0-9._~-] but not '.' or '..', optionally ending
--                                       in '/*', no trailing '/', 512
--   platform_paths.service              [a-z][a-z0-9_-]*, 63
--   platform_paths.note                 note, 1,024
--   workspace_runtime_status            instance_id and bundle_hash: token, 128; plugins: a JSON
--                                       object of name (token, 128) -> ref (token, 512)
--
-- On UPDATE a text column is checked only when it changes: a row written before this
-- migration keeps working (the reconciler's status writes touch the same rows), and is
-- refused only when someone writes the bad value again.
--
-- Secret tables: every constraint (NOT NULL, the FK on workspace_id, CHECKs, a key changed
-- into a taken one) is checked first by their BEFORE trigger, whose messages never echo any
-- column (a value typed into the wrong column must not be shown either), so PostgreSQL never
-- reaches its own NOT NULL / CHECK error, whose DETAIL "Failing row contains (...)" would carry
-- the value to the client and the server log. Uniqueness on INSERT cannot be checked there:
-- BEFORE INSERT row triggers run before INSERT ... ON CONFLICT arbitrates, so such a check
-- would break every upsert. The unique index reports it; its DETAIL is
-- "Key (workspace_id, key)=(..., NAME) already exists", never the value.
--
-- The unique constraints an operator can hit are named as the message they should read:
-- PostgreSQL puts the name in its "duplicate key value violates unique constraint" message.
--
-- Controller-owned counters get CHECK constraints (a hand edit cannot make one negative);
-- secret_bundles' are also checked by a BEFORE trigger, so its token_seed never reaches a
-- "Failing row contains" DETAIL.

-- The quoted form of a value for a message: at most 64 characters, control characters shown as
-- \uXXXX, so a message (and a log line made from it) cannot be forged by the value.
CREATE FUNCTION molecule_quote(value text) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    shown text := '';
    c text;
BEGIN
    IF value IS NULL THEN
        RETURN 'NULL';
    END IF;
    FOREACH c IN ARRAY regexp_split_to_array(left(value, 64), '') LOOP
        IF c ~ molecule_control_class() THEN
            shown := shown || '\u' || lpad(to_hex(ascii(c)), 4, '0');
        ELSE
            shown := shown || c;
        END IF;
    END LOOP;
    RETURN '''' || replace(shown, '''', '''''') || CASE WHEN length(value) > 64 THEN '...' ELSE '' END || '''';
END $$;

CREATE FUNCTION molecule_control_class() RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT '[\u0001-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]'
$$;

CREATE FUNCTION molecule_whitespace_class() RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT '[\s\u0085\u00a0\u1680\u180e\u2000-\u200d\u2028\u2029\u202f\u205f\u2060\u3000\ufeff]'
$$;

-- Why `value` is not acceptable text of `form` ('line', 'token' or 'note', see the header),
-- or NULL when it is.
CREATE FUNCTION molecule_text_problem(value text, max_length integer, form text) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    control text;
BEGIN
    IF value IS NULL THEN
        RETURN 'must not be NULL';
    ELSIF length(value) > max_length THEN
        RETURN format('must be at most %s characters (got %s)', max_length, length(value));
    ELSIF form <> 'note' AND value ~ ('^' || molecule_whitespace_class() || '*$') THEN
        RETURN 'must not be empty or only whitespace';
    END IF;
    control := substring(value FROM molecule_control_class());
    IF control IS NOT NULL THEN
        RETURN format('must not contain control characters (found U+%s)', upper(lpad(to_hex(ascii(control)), 4, '0')));
    ELSIF form = 'token' AND value ~ molecule_whitespace_class() THEN
        RETURN 'must not contain whitespace';
    ELSIF form = 'line' AND (value ~ ('^' || molecule_whitespace_class()) OR value ~ (molecule_whitespace_class() || '$')) THEN
        RETURN 'must not start or end with whitespace';
    END IF;
    RETURN NULL;
END $$;

-- Why `value` does not match `pattern` (described as `expected`), or NULL. `echo` = false for
-- the secret tables: nothing of the row is shown.
CREATE FUNCTION molecule_pattern_problem(value text, max_length integer, pattern text, expected text,
                                         echo boolean DEFAULT true) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF value IS NULL THEN
        RETURN 'must not be NULL';
    ELSIF length(value) > max_length THEN
        RETURN format('must be at most %s characters (got %s)', max_length, length(value));
    ELSIF value ~ ('^' || molecule_whitespace_class() || '*$') THEN
        RETURN 'must not be empty or only whitespace';
    ELSIF value !~ pattern THEN
        RETURN 'must be ' || expected || CASE WHEN echo THEN ', got ' || molecule_quote(value) ELSE '' END;
    END IF;
    RETURN NULL;
END $$;

-- Raises '<tbl>.<col>: <problem>' unless `problem` is NULL. A 'must not be NULL' problem is a
-- not_null_violation whatever `code` says.
CREATE FUNCTION molecule_refuse(tbl text, col text, problem text, code text DEFAULT 'check_violation') RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF problem IS NULL THEN
        RETURN;
    END IF;
    IF problem = 'must not be NULL' THEN
        code := 'not_null_violation';
    END IF;
    RAISE EXCEPTION USING MESSAGE = tbl || '.' || col || ': ' || problem, ERRCODE = code, TABLE = tbl, COLUMN = col;
END $$;

CREATE FUNCTION molecule_null_problem(is_null boolean) RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT CASE WHEN is_null THEN 'must not be NULL' END $$;

-- The rule of WorkspaceModel.TemplateFiles.problem(with:), step for step and with the same
-- reasons (a test runs a table of paths through both).
CREATE FUNCTION molecule_template_path_problem(path text) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    segments text[] := string_to_array(path, '/');
BEGIN
    IF path = '' THEN
        RETURN 'empty path';
    ELSIF octet_length(path) > 255 THEN
        RETURN format('the path is %s bytes, over the 255-byte limit', octet_length(path));
    ELSIF left(path, 1) = '/' THEN
        RETURN 'absolute paths are not allowed';
    ELSIF strpos(path, '\') > 0 THEN
        RETURN 'backslashes and NUL are not allowed';
    ELSIF path ~ molecule_control_class() THEN
        RETURN 'control characters are not allowed';
    ELSIF '..' = ANY (segments) OR '.' = ANY (segments) THEN
        RETURN 'the path escapes the template directory';
    ELSIF '' = ANY (segments) THEN
        RETURN 'empty path segment';
    ELSIF path = 'config.yaml' OR (cardinality(segments) >= 2 AND segments[1] = 'prompts') THEN
        RETURN NULL;
    END IF;
    RETURN 'only config.yaml and prompts/** may be delivered';
END $$;

-- The rule of IngressModel.PathPattern (a test runs a table of patterns through both).
CREATE FUNCTION molecule_path_pattern_is_valid(pattern text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT pattern IS NOT NULL AND length(pattern) <= 512
       AND pattern ~ '^/(([A-Za-z0-9._~-]+/)*([A-Za-z0-9._~-]+|\*))?$'
       AND ('/' || pattern || '/') !~ '/\.\.?/'
$$;

CREATE OR REPLACE FUNCTION workspaces_validate() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    inserting boolean := TG_OP = 'INSERT';
BEGIN
    IF inserting OR NEW.org IS DISTINCT FROM OLD.org THEN
        PERFORM molecule_refuse('workspaces', 'org', molecule_pattern_problem(NEW.org, 63, '^[a-z0-9][a-z0-9-]*$',
            'a lowercase slug ([a-z0-9][a-z0-9-]*)'));
    END IF;
    IF inserting OR NEW.name IS DISTINCT FROM OLD.name THEN
        PERFORM molecule_refuse('workspaces', 'name', molecule_text_problem(NEW.name, 128, 'line'));
    END IF;
    IF NEW.kind IS NULL OR NEW.kind NOT IN ('agent', 'platform') THEN
        PERFORM molecule_refuse('workspaces', 'kind', 'must be ''agent'' or ''platform'', got ' || molecule_quote(NEW.kind));
    END IF;
    IF NEW.desired_state IS NULL OR NEW.desired_state NOT IN ('running', 'stopped', 'deleted') THEN
        PERFORM molecule_refuse('workspaces', 'desired_state',
            'must be ''running'', ''stopped'' or ''deleted'', got ' || molecule_quote(NEW.desired_state));
    END IF;
    IF inserting OR NEW.image IS DISTINCT FROM OLD.image THEN
        PERFORM molecule_refuse('workspaces', 'image', molecule_text_problem(NEW.image, 512, 'token'));
    END IF;
    IF NEW.restart_policy IS NULL OR NEW.restart_policy NOT IN ('auto', 'manual') THEN
        PERFORM molecule_refuse('workspaces', 'restart_policy',
            'must be ''auto'' or ''manual'', got ' || molecule_quote(NEW.restart_policy));
    END IF;
    IF NEW.template IS NOT NULL AND (inserting OR NEW.template IS DISTINCT FROM OLD.template)
       AND NOT EXISTS (SELECT 1 FROM templates WHERE name = NEW.template) THEN
        PERFORM molecule_refuse('workspaces', 'template', 'no template named ' || molecule_quote(NEW.template),
                                'foreign_key_violation');
    END IF;
    IF NEW.restart_requests IS NULL THEN
        PERFORM molecule_refuse('workspaces', 'restart_requests', 'must not be NULL');
    ELSIF inserting AND NEW.restart_requests < 0 THEN
        PERFORM molecule_refuse('workspaces', 'restart_requests', 'must not be negative');
    ELSIF NOT inserting AND NEW.restart_requests < OLD.restart_requests THEN
        PERFORM molecule_refuse('workspaces', 'restart_requests',
            format('is a counter and can only grow (%s -> %s)', OLD.restart_requests, NEW.restart_requests));
    END IF;
    IF NEW.phase IS NULL OR NEW.phase NOT IN
       ('pending', 'provisioning', 'running', 'degraded', 'failed', 'stopping', 'stopped', 'deleting', 'deleted') THEN
        PERFORM molecule_refuse('workspaces', 'phase', 'is not a known phase, got ' || molecule_quote(NEW.phase));
    END IF;
    IF jsonb_typeof(NEW.conditions) IS DISTINCT FROM 'object' THEN
        PERFORM molecule_refuse('workspaces', 'conditions', coalesce(molecule_null_problem(NEW.conditions IS NULL),
            'must be a JSON object (condition type -> condition), got ' || jsonb_typeof(NEW.conditions)));
    END IF;
    IF NEW.restart_pending IS NULL THEN
        PERFORM molecule_refuse('workspaces', 'restart_pending', 'must not be NULL');
    END IF;
    IF NEW.created_at IS NULL THEN
        PERFORM molecule_refuse('workspaces', 'created_at', 'must not be NULL');
    END IF;
    IF NOT inserting THEN
        IF OLD.kind = 'platform' AND NEW.kind <> 'platform' AND EXISTS (
            SELECT 1 FROM workspace_declared_plugins d JOIN privileged_plugins p ON p.name = d.plugin
            WHERE d.workspace_id = NEW.id) THEN
            PERFORM molecule_refuse('workspaces', 'kind', 'cannot leave ''platform'' while privileged plugins are declared for it');
        END IF;
        IF (NEW.org, NEW.name, NEW.kind, NEW.template, NEW.image, NEW.desired_state, NEW.restart_requests, NEW.restart_policy)
           IS DISTINCT FROM
           (OLD.org, OLD.name, OLD.kind, OLD.template, OLD.image, OLD.desired_state, OLD.restart_requests, OLD.restart_policy) THEN
            NEW.updated_at := now();
        END IF;
    END IF;
    IF NEW.updated_at IS NULL THEN
        PERFORM molecule_refuse('workspaces', 'updated_at', 'must not be NULL');
    END IF;
    RETURN NEW;
END $$;

ALTER TABLE workspaces
    ADD CONSTRAINT "workspaces.conditions: must be a JSON object" CHECK (jsonb_typeof(conditions) = 'object'),
    ADD CONSTRAINT "workspaces.restart_requests: must not be negative" CHECK (restart_requests >= 0);
ALTER TABLE workspaces RENAME CONSTRAINT workspaces_org_name_unique TO "workspaces.name: taken in this org";

CREATE FUNCTION templates_validate() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    file record;
    problem text;
    size bigint;
    total bigint := 0;
BEGIN
    IF TG_OP = 'INSERT' OR NEW.name IS DISTINCT FROM OLD.name THEN
        PERFORM molecule_refuse('templates', 'name', molecule_pattern_problem(NEW.name, 63, '^[a-z0-9][a-z0-9-]*$',
            'a lowercase slug ([a-z0-9][a-z0-9-]*)'));
    END IF;
    IF TG_OP = 'INSERT' OR NEW.files IS DISTINCT FROM OLD.files THEN
        IF jsonb_typeof(NEW.files) IS DISTINCT FROM 'object' THEN
            PERFORM molecule_refuse('templates', 'files', coalesce(molecule_null_problem(NEW.files IS NULL),
                'must be a JSON object of path -> file content, got ' || jsonb_typeof(NEW.files)));
        END IF;
        -- The order of TemplateFiles.validate: paths sorted, each path then its size, the total last.
        FOR file IN SELECT key, value FROM jsonb_each(NEW.files) ORDER BY key COLLATE "C" LOOP
            problem := molecule_template_path_problem(file.key);
            IF problem IS NULL AND jsonb_typeof(file.value) <> 'string' THEN
                problem := 'must be a string (the file''s content), got ' || jsonb_typeof(file.value);
            END IF;
            IF problem IS NULL THEN
                size := octet_length(file.value #>> '{}');
                IF size > 262144 THEN
                    problem := format('%s bytes is over the 262144-byte limit per file', size);
                END IF;
                total := total + size;
            END IF;
            PERFORM molecule_refuse('templates', 'files', 'template file ' || molecule_quote(file.key) || ': ' || problem);
        END LOOP;
        IF total > 1048576 THEN
            PERFORM molecule_refuse('templates', 'files',
                format('template file ''*'': %s bytes in all is over the 1048576-byte limit per template', total));
        END IF;
    END IF;
    PERFORM molecule_refuse('templates', 'updated_at', molecule_null_problem(NEW.updated_at IS NULL));
    RETURN NEW;
END $$;

CREATE TRIGGER templates_validate BEFORE INSERT OR UPDATE ON templates
    FOR EACH ROW EXECUTE FUNCTION templates_validate();
ALTER TABLE templates RENAME CONSTRAINT templates_pkey TO "templates.name: another template has this name";

CREATE OR REPLACE FUNCTION secrets_validate() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    tbl text := TG_TABLE_NAME;
    inserting boolean := TG_OP = 'INSERT';
BEGIN
    IF tbl = 'workspace_secrets' THEN
        PERFORM molecule_refuse(tbl, 'workspace_id', molecule_null_problem(NEW.workspace_id IS NULL));
        IF (inserting OR NEW.workspace_id IS DISTINCT FROM OLD.workspace_id)
           AND NOT EXISTS (SELECT 1 FROM workspaces WHERE id = NEW.workspace_id) THEN
            PERFORM molecule_refuse(tbl, 'workspace_id', 'no workspace has this id', 'foreign_key_violation');
        END IF;
        IF NOT inserting AND (NEW.workspace_id, NEW.key) IS DISTINCT FROM (OLD.workspace_id, OLD.key) AND EXISTS (
            SELECT 1 FROM workspace_secrets WHERE workspace_id = NEW.workspace_id AND key = NEW.key) THEN
            PERFORM molecule_refuse(tbl, 'key', 'already set for this workspace', 'unique_violation');
        END IF;
    ELSE
        PERFORM molecule_refuse(tbl, 'org', molecule_pattern_problem(NEW.org, 63, '^[a-z0-9][a-z0-9-]*$',
            'a lowercase slug ([a-z0-9][a-z0-9-]*)', echo => false));
        IF NOT inserting AND (NEW.org, NEW.key) IS DISTINCT FROM (OLD.org, OLD.key) AND EXISTS (
            SELECT 1 FROM org_secrets WHERE org = NEW.org AND key = NEW.key) THEN
            PERFORM molecule_refuse(tbl, 'key', 'already set for this org', 'unique_violation');
        END IF;
    END IF;
    PERFORM molecule_refuse(tbl, 'key', molecule_pattern_problem(NEW.key, 128, '^[A-Za-z_][A-Za-z0-9_]*$',
        'an environment-variable name (letters, digits, underscore; not starting with a digit)', echo => false));
    IF NEW.value IS NULL THEN
        PERFORM molecule_refuse(tbl, 'value', 'must not be NULL (delete the row to remove a secret)', 'not_null_violation');
    ELSIF octet_length(NEW.value) > 65536 THEN
        PERFORM molecule_refuse(tbl, 'value', 'must be at most 65536 bytes');
    END IF;
    PERFORM molecule_refuse(tbl, 'runtime_consumed', molecule_null_problem(NEW.runtime_consumed IS NULL));
    PERFORM molecule_refuse(tbl, 'written_by', molecule_pattern_problem(NEW.written_by, 46,
        '^(operator|platform|workspace:[0-9a-f-]{36})$', '''operator'', ''platform'' or ''workspace:<uuid>''', echo => false));
    PERFORM molecule_refuse(tbl, 'written_at', molecule_null_problem(NEW.written_at IS NULL));
    RETURN NEW;
END $$;

ALTER TABLE workspace_secrets RENAME CONSTRAINT workspace_secrets_pkey TO "workspace_secrets.key: already set for this workspace";
ALTER TABLE org_secrets RENAME CONSTRAINT org_secrets_pkey TO "org_secrets.key: already set for this org";

CREATE OR REPLACE FUNCTION privileged_plugins_validate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' OR NEW.name IS DISTINCT FROM OLD.name THEN
        PERFORM molecule_refuse('privileged_plugins', 'name', molecule_pattern_problem(NEW.name, 128, '^[a-z0-9][a-z0-9._-]*$',
            'a lowercase plugin name ([a-z0-9][a-z0-9._-]*)'));
    END IF;
    IF TG_OP = 'INSERT' OR NEW.reason IS DISTINCT FROM OLD.reason THEN
        PERFORM molecule_refuse('privileged_plugins', 'reason', molecule_text_problem(NEW.reason, 1024, 'note'));
    END IF;
    IF EXISTS (SELECT 1 FROM workspace_declared_plugins d JOIN workspaces w ON w.id = d.workspace_id
               WHERE d.plugin = NEW.name AND w.kind <> 'platform') THEN
        PERFORM molecule_refuse('privileged_plugins', 'name',
            molecule_quote(NEW.name) || ' is declared by non-platform workspaces; remove those declarations first');
    END IF;
    RETURN NEW;
END $$;

ALTER TABLE privileged_plugins RENAME CONSTRAINT privileged_plugins_pkey TO "privileged_plugins.name: already listed";

CREATE OR REPLACE FUNCTION workspace_declared_plugins_validate() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    inserting boolean := TG_OP = 'INSERT';
    workspace_kind text;
BEGIN
    PERFORM molecule_refuse('workspace_declared_plugins', 'workspace_id', molecule_null_problem(NEW.workspace_id IS NULL));
    IF (inserting OR NEW.workspace_id IS DISTINCT FROM OLD.workspace_id)
       AND NOT EXISTS (SELECT 1 FROM workspaces WHERE id = NEW.workspace_id) THEN
        PERFORM molecule_refuse('workspace_declared_plugins', 'workspace_id', 'no workspace with id ' || NEW.workspace_id,
                                'foreign_key_violation');
    END IF;
    IF inserting OR NEW.plugin IS DISTINCT FROM OLD.plugin THEN
        PERFORM molecule_refuse('workspace_declared_plugins', 'plugin', molecule_pattern_problem(NEW.plugin, 128,
            '^[a-z0-9][a-z0-9._-]*$', 'a lowercase name ([a-z0-9._-])'));
    END IF;
    IF inserting OR NEW.ref IS DISTINCT FROM OLD.ref THEN
        PERFORM molecule_refuse('workspace_declared_plugins', 'ref', molecule_text_problem(NEW.ref, 512, 'token'));
    END IF;
    PERFORM molecule_refuse('workspace_declared_plugins', 'requires_restart', molecule_null_problem(NEW.requires_restart IS NULL));
    PERFORM molecule_refuse('workspace_declared_plugins', 'declared_at', molecule_null_problem(NEW.declared_at IS NULL));
    IF EXISTS (SELECT 1 FROM privileged_plugins WHERE name = NEW.plugin) THEN
        -- Fail closed: a workspace we cannot find is not a platform workspace.
        SELECT kind INTO workspace_kind FROM workspaces WHERE id = NEW.workspace_id FOR SHARE;
        IF workspace_kind IS DISTINCT FROM 'platform' THEN
            PERFORM molecule_refuse('workspace_declared_plugins', 'plugin', format(
                '%s is privileged and may only be declared for kind = ''platform'' workspaces (workspace %s is %s)',
                molecule_quote(NEW.plugin), NEW.workspace_id, coalesce(molecule_quote(workspace_kind), 'missing')));
        END IF;
    END IF;
    RETURN NEW;
END $$;

ALTER TABLE workspace_declared_plugins RENAME CONSTRAINT workspace_declared_plugins_pkey
    TO "workspace_declared_plugins.plugin: already declared";

CREATE OR REPLACE FUNCTION tenants_validate() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    inserting boolean := TG_OP = 'INSERT';
    service record;
BEGIN
    IF inserting OR NEW.name IS DISTINCT FROM OLD.name THEN
        PERFORM molecule_refuse('tenants', 'name', molecule_text_problem(NEW.name, 63, 'line'));
    END IF;
    IF inserting OR NEW.hostname IS DISTINCT FROM OLD.hostname THEN
        PERFORM molecule_refuse('tenants', 'hostname', molecule_pattern_problem(NEW.hostname, 253,
            '^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$', 'a lowercase DNS name'));
        -- Another row with this hostname, not counting this row: by id on UPDATE, by id or name
        -- on INSERT (an INSERT ... ON CONFLICT (name or id) DO UPDATE of the same tenant).
        IF EXISTS (SELECT 1 FROM tenants t WHERE t.hostname = NEW.hostname
                   AND t.id IS DISTINCT FROM coalesce(OLD.id, NEW.id) AND (NOT inserting OR t.name <> NEW.name)) THEN
            PERFORM molecule_refuse('tenants', 'hostname', 'another tenant routes ' || molecule_quote(NEW.hostname),
                                    'unique_violation');
        END IF;
    END IF;
    IF inserting OR NEW.tunnel_id IS DISTINCT FROM OLD.tunnel_id THEN
        -- The rule of Providers.TunnelID (a test runs a table of IDs through both).
        PERFORM molecule_refuse('tenants', 'tunnel_id', molecule_pattern_problem(NEW.tunnel_id, 128,
            '^[A-Za-z0-9][A-Za-z0-9_-]*$', 'a tunnel ID ([A-Za-z0-9][A-Za-z0-9_-]*)'));
    END IF;
    IF inserting OR NEW.services IS DISTINCT FROM OLD.services THEN
        IF jsonb_typeof(NEW.services) IS DISTINCT FROM 'object' THEN
            PERFORM molecule_refuse('tenants', 'services', coalesce(molecule_null_problem(NEW.services IS NULL),
                'must be a JSON object of service name to URL, got ' || jsonb_typeof(NEW.services)));
        END IF;
        FOR service IN SELECT key, value FROM jsonb_each(NEW.services) ORDER BY key COLLATE "C" LOOP
            PERFORM molecule_refuse('tenants', 'services', 'service name ' || molecule_quote(service.key) || ': ' ||
                molecule_pattern_problem(service.key, 63, '^[a-z][a-z0-9_-]*$', 'a service name ([a-z][a-z0-9_-]*)', echo => false));
            IF jsonb_typeof(service.value) <> 'string' THEN
                PERFORM molecule_refuse('tenants', 'services',
                    format('the URL of %s must be a string, got %s', molecule_quote(service.key), jsonb_typeof(service.value)));
            END IF;
            PERFORM molecule_refuse('tenants', 'services', 'the URL of ' || molecule_quote(service.key) || ' ' ||
                molecule_text_problem(service.value #>> '{}', 512, 'token'));
        END LOOP;
    END IF;
    PERFORM molecule_refuse('tenants', 'created_at', molecule_null_problem(NEW.created_at IS NULL));
    RETURN NEW;
END $$;

CREATE UNIQUE INDEX "tenants.hostname: another tenant routes it" ON tenants (hostname);
ALTER TABLE tenants RENAME CONSTRAINT tenants_name_key TO "tenants.name: another tenant has this name";

CREATE OR REPLACE FUNCTION platform_paths_validate() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    inserting boolean := TG_OP = 'INSERT';
BEGIN
    IF (inserting OR NEW.pattern IS DISTINCT FROM OLD.pattern) AND NOT molecule_path_pattern_is_valid(NEW.pattern) THEN
        PERFORM molecule_refuse('platform_paths', 'pattern', coalesce(molecule_null_problem(NEW.pattern IS NULL),
            'must be an absolute path of at most 512 characters, of segments [A-Za-z0-9._~-] other than ''.'' and ''..'', '
            || 'optionally ending in /*, got ' || molecule_quote(NEW.pattern)));
    END IF;
    IF inserting OR NEW.service IS DISTINCT FROM OLD.service THEN
        PERFORM molecule_refuse('platform_paths', 'service', molecule_pattern_problem(NEW.service, 63, '^[a-z][a-z0-9_-]*$',
            'a service name ([a-z][a-z0-9_-]*)'));
    END IF;
    IF inserting OR NEW.note IS DISTINCT FROM OLD.note THEN
        PERFORM molecule_refuse('platform_paths', 'note', molecule_text_problem(NEW.note, 1024, 'note'));
    END IF;
    PERFORM molecule_refuse('platform_paths', 'created_at', molecule_null_problem(NEW.created_at IS NULL));
    RETURN NEW;
END $$;

ALTER TABLE platform_paths RENAME CONSTRAINT platform_paths_pkey TO "platform_paths.pattern: already listed";

CREATE FUNCTION workspace_runtime_status_validate() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    inserting boolean := TG_OP = 'INSERT';
    plugin record;
BEGIN
    PERFORM molecule_refuse('workspace_runtime_status', 'workspace_id', molecule_null_problem(NEW.workspace_id IS NULL));
    IF (inserting OR NEW.workspace_id IS DISTINCT FROM OLD.workspace_id)
       AND NOT EXISTS (SELECT 1 FROM workspaces WHERE id = NEW.workspace_id) THEN
        PERFORM molecule_refuse('workspace_runtime_status', 'workspace_id', 'no workspace with id ' || NEW.workspace_id,
                                'foreign_key_violation');
    END IF;
    IF inserting OR NEW.instance_id IS DISTINCT FROM OLD.instance_id THEN
        PERFORM molecule_refuse('workspace_runtime_status', 'instance_id', molecule_text_problem(NEW.instance_id, 128, 'token'));
    END IF;
    IF NEW.bundle_hash IS NOT NULL AND (inserting OR NEW.bundle_hash IS DISTINCT FROM OLD.bundle_hash) THEN
        PERFORM molecule_refuse('workspace_runtime_status', 'bundle_hash', molecule_text_problem(NEW.bundle_hash, 128, 'token'));
    END IF;
    IF inserting OR NEW.plugins IS DISTINCT FROM OLD.plugins THEN
        IF jsonb_typeof(NEW.plugins) IS DISTINCT FROM 'object' THEN
            PERFORM molecule_refuse('workspace_runtime_status', 'plugins', coalesce(molecule_null_problem(NEW.plugins IS NULL),
                'must be a JSON object of plugin name to ref, got ' || jsonb_typeof(NEW.plugins)));
        END IF;
        FOR plugin IN SELECT key, value FROM jsonb_each(NEW.plugins) ORDER BY key COLLATE "C" LOOP
            PERFORM molecule_refuse('workspace_runtime_status', 'plugins',
                'plugin name ' || molecule_quote(plugin.key) || ' ' || molecule_text_problem(plugin.key, 128, 'token'));
            IF jsonb_typeof(plugin.value) <> 'string' THEN
                PERFORM molecule_refuse('workspace_runtime_status', 'plugins',
                    format('the ref of %s must be a string, got %s', molecule_quote(plugin.key), jsonb_typeof(plugin.value)));
            END IF;
            PERFORM molecule_refuse('workspace_runtime_status', 'plugins',
                'the ref of ' || molecule_quote(plugin.key) || ' ' || molecule_text_problem(plugin.value #>> '{}', 512, 'token'));
        END LOOP;
    END IF;
    PERFORM molecule_refuse('workspace_runtime_status', 'ready', molecule_null_problem(NEW.ready IS NULL));
    PERFORM molecule_refuse('workspace_runtime_status', 'management_mcp_present',
                            molecule_null_problem(NEW.management_mcp_present IS NULL));
    PERFORM molecule_refuse('workspace_runtime_status', 'reported_at', molecule_null_problem(NEW.reported_at IS NULL));
    RETURN NEW;
END $$;

CREATE TRIGGER workspace_runtime_status_validate BEFORE INSERT OR UPDATE ON workspace_runtime_status
    FOR EACH ROW EXECUTE FUNCTION workspace_runtime_status_validate();
ALTER TABLE workspace_runtime_status RENAME CONSTRAINT workspace_runtime_status_pkey
    TO "workspace_runtime_status.workspace_id: one row each";

-- secret_bundles carries token_seed: checked here before NOT NULL and CHECK, without values.
CREATE FUNCTION secret_bundles_validate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- On every status write of the secrets-bundle controller: plain comparisons, one call only
    -- when something is wrong.
    IF NEW.key IS NULL THEN
        PERFORM molecule_refuse('secret_bundles', 'key', 'must not be NULL');
    ELSIF NEW.token_seed IS NULL THEN
        PERFORM molecule_refuse('secret_bundles', 'token_seed', 'must not be NULL');
    ELSIF NEW.token_seed = '' THEN
        PERFORM molecule_refuse('secret_bundles', 'token_seed', 'must not be empty');
    ELSIF NEW.desired_generation IS NULL OR NEW.desired_generation < 0 THEN
        PERFORM molecule_refuse('secret_bundles', 'desired_generation',
                                coalesce(molecule_null_problem(NEW.desired_generation IS NULL), 'must not be negative'));
    ELSIF NEW.observed_generation IS NULL OR NEW.observed_generation < 0 THEN
        PERFORM molecule_refuse('secret_bundles', 'observed_generation',
                                coalesce(molecule_null_problem(NEW.observed_generation IS NULL), 'must not be negative'));
    ELSIF NEW.attempts IS NULL OR NEW.attempts < 0 THEN
        PERFORM molecule_refuse('secret_bundles', 'attempts',
                                coalesce(molecule_null_problem(NEW.attempts IS NULL), 'must not be negative'));
    ELSIF NEW.staged_generation < 0 THEN
        PERFORM molecule_refuse('secret_bundles', 'staged_generation', 'must not be negative');
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER secret_bundles_validate BEFORE INSERT OR UPDATE ON secret_bundles
    FOR EACH ROW EXECUTE FUNCTION secret_bundles_validate();

ALTER TABLE secret_bundles
    ADD CONSTRAINT "secret_bundles.desired_generation: must not be negative" CHECK (desired_generation >= 0),
    ADD CONSTRAINT "secret_bundles.observed_generation: must not be negative" CHECK (observed_generation >= 0),
    ADD CONSTRAINT "secret_bundles.attempts: must not be negative" CHECK (attempts >= 0),
    ADD CONSTRAINT "secret_bundles.staged_generation: must not be negative" CHECK (staged_generation >= 0);
ALTER TABLE instances
    ADD CONSTRAINT "instances.desired_generation: must not be negative" CHECK (desired_generation >= 0),
    ADD CONSTRAINT "instances.observed_generation: must not be negative" CHECK (observed_generation >= 0),
    ADD CONSTRAINT "instances.instance_generation: must not be negative" CHECK (instance_generation >= 0),
    ADD CONSTRAINT "instances.target_generation: must not be negative" CHECK (target_generation >= 0),
    ADD CONSTRAINT "instances.attempts: must not be negative" CHECK (attempts >= 0),
    ADD CONSTRAINT "instances.remediations: must not be negative" CHECK (remediations >= 0);
ALTER TABLE plugin_installs
    ADD CONSTRAINT "plugin_installs.desired_generation: must not be negative" CHECK (desired_generation >= 0),
    ADD CONSTRAINT "plugin_installs.observed_generation: must not be negative" CHECK (observed_generation >= 0),
    ADD CONSTRAINT "plugin_installs.attempts: must not be negative" CHECK (attempts >= 0),
    ADD CONSTRAINT "plugin_installs.installed: must be a JSON object" CHECK (jsonb_typeof(installed) = 'object');
ALTER TABLE tunnel_ingress
    ADD CONSTRAINT "tunnel_ingress.desired_generation: must not be negative" CHECK (desired_generation >= 0),
    ADD CONSTRAINT "tunnel_ingress.observed_generation: must not be negative" CHECK (observed_generation >= 0),
    ADD CONSTRAINT "tunnel_ingress.attempts: must not be negative" CHECK (attempts >= 0),
    ADD CONSTRAINT "tunnel_ingress.applied_rules: must not be negative" CHECK (applied_rules >= 0);
ALTER TABLE leases
    ADD CONSTRAINT "leases.token: must not be negative" CHECK (token >= 0);
ALTER TABLE events
    ADD CONSTRAINT "events.count: must be positive" CHECK (count >= 1);
