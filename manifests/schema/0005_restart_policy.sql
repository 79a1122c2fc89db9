-- What a running instance booted with, so a secret or template change can be judged by what
-- the runtime actually consumes (seed 000: restart only for a runtime-consumed change).
ALTER TABLE instances
    -- The staged bundle's runtime hash when this instance was launched (or adopted).
    ADD COLUMN booted_runtime_hash text;
