-- Status as a value: controllers return their status and the host writes it in the batch's
-- one fenced write-back. Two helpers that write-back uses, and the columns issue 8's truthful
-- liveness needs.

-- Sets one condition in a workspace's `conditions`, rewriting whatever was there if it is not
-- an object (a hand edit to [] or null), keeping `lastTransitionTime` while the condition's
-- status stays, and recomputing the aggregate `Ready` from the others, so Ready agrees with
-- them at every write: True only when InstanceReady, BundleStaged and PluginsInstalled all are.
CREATE FUNCTION molecule_set_condition(conditions jsonb, cond jsonb, at timestamptz) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    base jsonb := CASE WHEN jsonb_typeof(conditions) = 'object' THEN conditions ELSE '{}'::jsonb END;
    kind text := cond ->> 'type';
    failing text;
BEGIN
    base := base || jsonb_build_object(kind, jsonb_build_object(
        'status', cond ->> 'status', 'reason', cond ->> 'reason', 'message', cond ->> 'message',
        'lastTransitionTime', CASE WHEN base -> kind ->> 'status' = cond ->> 'status' AND base -> kind ? 'lastTransitionTime'
                                   THEN base -> kind -> 'lastTransitionTime' ELSE to_jsonb(at) END));
    SELECT t INTO failing FROM unnest(ARRAY['InstanceReady', 'BundleStaged', 'PluginsInstalled']) AS t
     WHERE base -> t ->> 'status' IS DISTINCT FROM 'True' LIMIT 1;
    RETURN base || jsonb_build_object('Ready', jsonb_build_object(
        'status', CASE WHEN failing IS NULL THEN 'True' ELSE 'False' END,
        'reason', CASE WHEN failing IS NULL THEN 'AllConditionsTrue' ELSE failing || 'NotTrue' END,
        'message', CASE WHEN failing IS NULL THEN 'the instance runs with its bundle and plugins'
                        ELSE coalesce(failing || ': ' || (base -> failing ->> 'message'), failing || ' has not been reported yet') END,
        'lastTransitionTime', CASE WHEN base -> 'Ready' ->> 'status' = CASE WHEN failing IS NULL THEN 'True' ELSE 'False' END
                                        AND base -> 'Ready' ? 'lastTransitionTime'
                                   THEN base -> 'Ready' -> 'lastTransitionTime' ELSE to_jsonb(at) END));
END $$;

-- A controller's own `last_error` on the workspace: "<controller>: <error>", cleared only by the
-- controller that set it (three controllers share the column; each keeps its condition).
CREATE FUNCTION molecule_workspace_error(current text, controller text, error text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN error IS NOT NULL THEN controller || ': ' || error
                WHEN starts_with(current, controller || ': ') THEN NULL
                ELSE current END
$$;

ALTER TABLE instances
    -- Since when the runtime has not answered its probe (probe mode); NULL while it answers.
    -- Written on the transition only, so a healthy fleet's watch writes nothing.
    ADD COLUMN unresponsive_since timestamptz;

ALTER TABLE tunnel_ingress
    -- The platform_paths rows this tenant could not serve: [{"pattern": ..., "reason": ...}].
    -- Each is left out of the tenant's rules; every other path still reaches it.
    ADD COLUMN skipped_paths jsonb NOT NULL DEFAULT '[]'
        CONSTRAINT tunnel_ingress_skipped_paths_is_an_array CHECK (jsonb_typeof(skipped_paths) = 'array');

-- Each platform path's status: the tenants it could not reach, and why (a pattern the rules
-- refuse, a service a tenant has no URL for). Empty `skipped_for`: it reaches every tenant.
CREATE VIEW platform_paths_status AS
SELECT p.pattern, p.service,
       count(s.tenant) AS skipped_count,
       coalesce(array_agg(s.tenant ORDER BY s.tenant) FILTER (WHERE s.tenant IS NOT NULL), '{}') AS skipped_for,
       min(s.reason) AS reason
  FROM platform_paths p
  LEFT JOIN (SELECT t.name AS tenant, e ->> 'pattern' AS pattern, e ->> 'reason' AS reason
               FROM tunnel_ingress i JOIN tenants t ON t.id = i.key, jsonb_array_elements(i.skipped_paths) AS e) s
    ON s.pattern = p.pattern
 GROUP BY p.pattern, p.service;

ALTER TABLE retired_ingress
    -- A retired pair whose removal failed (an unreadable tunnel, a provider error): it fails
    -- alone, is retried with backoff, and says why; the sweep goes on with the others.
    ADD COLUMN attempts integer NOT NULL DEFAULT 0 CONSTRAINT retired_ingress_attempts_not_negative CHECK (attempts >= 0),
    ADD COLUMN next_attempt_at timestamptz,
    ADD COLUMN last_error text;
