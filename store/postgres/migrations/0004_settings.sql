-- Settings every replica must agree on, by name. The first is the master-key check
-- (auth): a value sealed under the master key, so that a replica started with another key
-- refuses to start instead of sealing new secrets that the others cannot open.
CREATE TABLE settings (
    name       text PRIMARY KEY,
    value      bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
