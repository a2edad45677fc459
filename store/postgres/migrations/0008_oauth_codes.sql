-- OAuth authorization codes between consent and token exchange, shared so that the
-- replica answering POST /oauth/token knows a code another replica issued. Stored under
-- the digest of the code, never the code. Rows last about two minutes: every new code
-- deletes the expired ones.
CREATE TABLE oauth_codes (
    digest         bytea PRIMARY KEY,
    client_id      text NOT NULL,
    redirect_uri   text NOT NULL,
    code_challenge text NOT NULL,
    resource       text NOT NULL DEFAULT '',
    server_id      text NOT NULL DEFAULT '',
    workspace_id   text NOT NULL,
    workflows      text[] NOT NULL DEFAULT '{}',
    level          text NOT NULL,
    user_id        text NOT NULL,
    expires_at     timestamptz NOT NULL,
    used_at        timestamptz,
    grant_id       text NOT NULL DEFAULT '',
    replayed       boolean NOT NULL DEFAULT false
);
CREATE INDEX oauth_codes_expires ON oauth_codes (expires_at);
