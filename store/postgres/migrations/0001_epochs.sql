-- Epochs are counters bumped in the same transaction as any change that makes cached
-- decisions stale (auth: keys, grants, members, orgs; workflows: definitions and
-- deployments). Every replica keeps them in memory and follows them through
-- NOTIFY steelengine_epochs (payload name:value).
CREATE TABLE epochs (
    name  text   PRIMARY KEY,
    value bigint NOT NULL DEFAULT 0 CHECK (value >= 0)
);

INSERT INTO epochs (name, value) VALUES ('auth', 0), ('workflows', 0);
