-- The operator's watch channel: `get -w` and `wait` LISTEN on `molecule_status` and re-read
-- the rows a notification names. A workspace's status moving (phase, conditions,
-- restart_pending, last_error), a tenant's ingress status moving, and an event recorded or
-- counted again each notify the key (one '*' for a bulk change, as `molecule_notify` does).
-- Spec changes already notify the controllers' own channels; a status write that changes
-- nothing notifies nothing.

CREATE FUNCTION molecule_status_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'workspaces' THEN
        PERFORM molecule_notify('molecule_status', ARRAY(
            SELECT n.id FROM changed_new n JOIN changed_old o ON o.id = n.id
             WHERE (n.phase, n.conditions, n.restart_pending, n.last_error)
                   IS DISTINCT FROM (o.phase, o.conditions, o.restart_pending, o.last_error)));
    ELSIF TG_TABLE_NAME = 'tunnel_ingress' THEN
        PERFORM molecule_notify('molecule_status', ARRAY(
            SELECT n.key FROM changed_new n JOIN changed_old o ON o.key = n.key
             WHERE (n.applied_hash, n.applied_rules, n.last_error, n.skipped_paths, n.observed_generation)
                   IS DISTINCT FROM (o.applied_hash, o.applied_rules, o.last_error, o.skipped_paths, o.observed_generation)));
    ELSE
        PERFORM molecule_notify('molecule_status', ARRAY(SELECT DISTINCT key FROM changed_new));
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER workspaces_status_notified AFTER UPDATE ON workspaces
    REFERENCING OLD TABLE AS changed_old NEW TABLE AS changed_new
    FOR EACH STATEMENT EXECUTE FUNCTION molecule_status_changed();
CREATE TRIGGER tunnel_ingress_status_notified AFTER UPDATE ON tunnel_ingress
    REFERENCING OLD TABLE AS changed_old NEW TABLE AS changed_new
    FOR EACH STATEMENT EXECUTE FUNCTION molecule_status_changed();
CREATE TRIGGER events_inserted_notified AFTER INSERT ON events
    REFERENCING NEW TABLE AS changed_new
    FOR EACH STATEMENT EXECUTE FUNCTION molecule_status_changed();
CREATE TRIGGER events_counted_notified AFTER UPDATE ON events
    REFERENCING NEW TABLE AS changed_new
    FOR EACH STATEMENT EXECUTE FUNCTION molecule_status_changed();

-- Whoever's statement fires it (an operator's edit, the platform's restart request), it notifies
-- as the owner: it calls molecule_notify, which only the reconciler role may execute (schema 0010).
DO $$
BEGIN
    EXECUTE format('ALTER FUNCTION molecule_status_changed() SECURITY DEFINER SET search_path = %I, pg_temp',
                   current_schema());
END $$;
REVOKE EXECUTE ON FUNCTION molecule_status_changed() FROM PUBLIC;
