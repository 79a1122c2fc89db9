-- Controller machinery: per-key leases, Kubernetes-style events, and the helpers every
-- controller table uses to move its desired generation and wake its controller.
-- Every controller key is a uuid (a workspace id, a tenant id, ...).

CREATE TABLE leases (
    controller  text        NOT NULL,
    key         uuid        NOT NULL,
    -- The replica that holds the lease; NULL when free.
    holder      text,
    -- Fencing token: +1 on every acquisition. Status writes are conditional on it.
    token       bigint      NOT NULL DEFAULT 0,
    -- Decided by the database clock; a lease past expiry may be taken over.
    expires_at  timestamptz,
    PRIMARY KEY (controller, key)
) WITH (fillfactor = 70);  -- room for HOT updates: lease rows are updated in place, never re-created

CREATE TABLE events (
    id          bigserial   PRIMARY KEY,
    controller  text        NOT NULL,
    key         uuid        NOT NULL,
    type        text        NOT NULL CONSTRAINT events_type_is_normal_or_warning CHECK (type IN ('Normal', 'Warning')),
    reason      text        NOT NULL,
    message     text        NOT NULL,
    count       integer     NOT NULL DEFAULT 1,
    first_seen  timestamptz NOT NULL,
    last_seen   timestamptz NOT NULL
);
-- The same reason and message on the same key is one event whose count grows.
CREATE UNIQUE INDEX events_dedup ON events (controller, key, type, reason, md5(message));
CREATE INDEX events_by_key ON events (key, last_seen DESC);

-- Moves the desired generation of `keys` in `controller`'s table, clears any backoff so the
-- change is looked at now (attempts are kept, as client-go keeps failures until success), and
-- wakes the controller: one notification per key for small changes, one '*' (resync) for a
-- fan-out, so a bulk change never floods NOTIFY.
CREATE FUNCTION molecule_bump(controller text, keys uuid[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF keys IS NULL OR cardinality(keys) = 0 THEN
        RETURN;
    END IF;
    EXECUTE format('UPDATE %I SET desired_generation = desired_generation + 1, next_attempt_at = NULL
                    WHERE key = ANY($1)', controller) USING keys;
    PERFORM molecule_notify(controller, keys);
END $$;

CREATE FUNCTION molecule_notify(controller text, keys uuid[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    k uuid;
BEGIN
    IF keys IS NULL OR cardinality(keys) = 0 THEN
        RETURN;
    ELSIF cardinality(keys) <= 64 THEN
        FOREACH k IN ARRAY keys LOOP
            PERFORM pg_notify(controller, k::text);
        END LOOP;
    ELSE
        PERFORM pg_notify(controller, '*');
    END IF;
END $$;

-- Keeps `leases` in step with a controller table: every key gets its lease row when the key
-- is created (updated in place afterwards), and loses it when the key goes.
CREATE FUNCTION molecule_controller_keys_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO leases (controller, key)
        SELECT TG_TABLE_NAME, key FROM new_keys
        ON CONFLICT DO NOTHING;
        PERFORM molecule_notify(TG_TABLE_NAME, ARRAY(SELECT key FROM new_keys));
    ELSE
        DELETE FROM leases l USING old_keys o WHERE l.controller = TG_TABLE_NAME AND l.key = o.key;
    END IF;
    RETURN NULL;
END $$;

-- Makes a table a controller table. It must have the columns
--   key uuid PRIMARY KEY, desired_generation bigint, observed_generation bigint,
--   last_error text, last_error_at timestamptz, attempts integer, next_attempt_at timestamptz.
CREATE FUNCTION molecule_register_controller(tbl text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON %I REFERENCING NEW TABLE AS new_keys
                    FOR EACH STATEMENT EXECUTE FUNCTION molecule_controller_keys_changed()',
                   tbl || '_keys_inserted', tbl);
    EXECUTE format('CREATE TRIGGER %I AFTER DELETE ON %I REFERENCING OLD TABLE AS old_keys
                    FOR EACH STATEMENT EXECUTE FUNCTION molecule_controller_keys_changed()',
                   tbl || '_keys_deleted', tbl);
    -- The "due" predicate of the runtime's resync: only keys that are not converged, or that
    -- carry a retry time, are in this index, so a resync over a converged fleet reads nothing.
    EXECUTE format('CREATE INDEX %I ON %I (next_attempt_at)
                    WHERE desired_generation <> observed_generation OR next_attempt_at IS NOT NULL',
                   tbl || '_due', tbl);
END $$;
