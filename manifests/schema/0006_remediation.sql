-- Automatic recovery of failed platform workspaces (seed 000): remediations are counted
-- against a budget and spaced by backoff; a healthy instance resets the count.
ALTER TABLE instances
    ADD COLUMN remediations integer NOT NULL DEFAULT 0,
    ADD COLUMN last_remediation_at timestamptz;
