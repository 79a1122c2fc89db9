-- Lock order (docs/DESIGN.md, "Lock order"): every writer of controller rows locks them in key
-- order, as the write-back does after the workspace rows, so that a fan-out bump (an org
-- secret, a template, a spec change of many workspaces) and a write-back over the same keys
-- never wait for each other in a cycle.
CREATE OR REPLACE FUNCTION molecule_bump(controller text, keys uuid[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF keys IS NULL OR cardinality(keys) = 0 THEN
        RETURN;
    END IF;
    EXECUTE format('UPDATE %1$I t SET desired_generation = t.desired_generation + 1, next_attempt_at = NULL
                      FROM (SELECT key FROM %1$I WHERE key = ANY($1) ORDER BY key FOR NO KEY UPDATE) o
                     WHERE t.key = o.key', controller) USING keys;
    PERFORM molecule_notify(controller, keys);
END $$;
-- As 0010 pinned it (CREATE OR REPLACE resets a function's settings).
DO $$
BEGIN
    EXECUTE format('ALTER FUNCTION molecule_bump(text, uuid[]) SET search_path = %I, pg_temp', current_schema());
END $$;

-- A controller's error that already starts with its name (the instances controller's provider
-- errors read "instances: create: ...") is not prefixed a second time.
CREATE OR REPLACE FUNCTION molecule_workspace_error(current text, controller text, error text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN starts_with(error, controller || ': ') THEN error
                WHEN error IS NOT NULL THEN controller || ': ' || error
                WHEN starts_with(current, controller || ': ') THEN NULL
                ELSE current END
$$;
