-- The core records: everything store.Store holds except executions. Ids are the store's
-- lower-case ULIDs (text); times are timestamptz; sealed values stay bytea, sealed by the
-- caller with the master key every replica shares. Invariants bbolt kept in Go (unique
-- names among live keys, an org key's grants inside its org, the billing owner an admin
-- member) are kept in the same Go checks plus the constraints below.

CREATE TABLE users (
    id             text PRIMARY KEY,
    email          text NOT NULL,
    email_key      text NOT NULL, -- store.NormEmail(email): what is unique and looked up
    name           text NOT NULL DEFAULT '',
    password_hash  text NOT NULL DEFAULT '',
    instance_admin boolean NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL,
    disabled_at    timestamptz
);
CREATE UNIQUE INDEX users_email ON users (email_key);

CREATE TABLE sessions (
    digest     bytea PRIMARY KEY,
    user_id    text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token text NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE orgs (
    id               text PRIMARY KEY,
    name             text NOT NULL,
    created_at       timestamptz NOT NULL,
    max_key_lifetime bigint NOT NULL DEFAULT 0 -- nanoseconds (time.Duration)
);
-- Names need not be unique (as in bbolt): FindOrg refuses an ambiguous one.

CREATE TABLE org_members (
    org_id  text NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    user_id text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role    text NOT NULL,
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX org_members_user ON org_members (user_id);

CREATE TABLE workspaces (
    id                  text PRIMARY KEY,
    name                text NOT NULL,
    owner_id            text NOT NULL REFERENCES users (id),
    org_id              text REFERENCES orgs (id),
    allow_personal_keys boolean NOT NULL DEFAULT false,
    max_key_lifetime    bigint NOT NULL DEFAULT 0,
    created_at          timestamptz NOT NULL
);
CREATE INDEX workspaces_org ON workspaces (org_id);

CREATE TABLE workspace_members (
    workspace_id text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    user_id      text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    permission   text NOT NULL,
    PRIMARY KEY (workspace_id, user_id)
);
CREATE INDEX workspace_members_user ON workspace_members (user_id);

CREATE TABLE invitations (
    id          text PRIMARY KEY,
    target_type text NOT NULL,
    target_id   text NOT NULL,
    email       text NOT NULL,
    permission  text NOT NULL DEFAULT '',
    role        text NOT NULL DEFAULT '',
    invited_by  text NOT NULL,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL
);
-- email is stored as store.NormEmail gives it. One invitation per address and target:
-- inviting again replaces it.
CREATE INDEX invitations_email ON invitations (email);
CREATE UNIQUE INDEX invitations_target ON invitations (target_id, email);

CREATE TABLE workflows (
    id             text PRIMARY KEY,
    workspace_id   text NOT NULL REFERENCES workspaces (id),
    name           text NOT NULL,
    description    text NOT NULL DEFAULT '',
    draft          bytea NOT NULL, -- the engine's JSON as bbolt returns it (compacted), byte for byte
    active_version bigint NOT NULL DEFAULT 0,
    latest_version bigint NOT NULL DEFAULT 0,
    deployed_at    timestamptz,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);
CREATE INDEX workflows_workspace ON workflows (workspace_id, id COLLATE "C");

-- Deployed versions are immutable; the definition is stored once per version.
CREATE TABLE deployments (
    workflow_id text   NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
    version     bigint NOT NULL,
    definition  bytea  NOT NULL, -- the engine's JSON, byte for byte
    created_at  timestamptz NOT NULL,
    created_by  text NOT NULL DEFAULT '',
    note        text NOT NULL DEFAULT '',
    PRIMARY KEY (workflow_id, version)
);

-- Ids the store lists in order are COLLATE "C": bbolt orders them bytewise, and so must
-- every server whatever its default collation.
CREATE TABLE api_keys (
    id            text COLLATE "C" PRIMARY KEY,
    type          text NOT NULL,
    name          text NOT NULL,
    user_id       text, -- personal: owner
    workspace_id  text, -- workspace: owner
    org_id        text, -- organization: owner
    created_by    text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    expires_at    timestamptz,
    revoked_at    timestamptz,
    grace_until   timestamptz,
    rotated_to    text NOT NULL DEFAULT '',
    last_used_at  timestamptz,
    last_used_via text NOT NULL DEFAULT '',
    suffix        text NOT NULL,
    digest        bytea NOT NULL,
    ciphertext    bytea NOT NULL,
    level         text NOT NULL DEFAULT '',
    workflows     text[] NOT NULL DEFAULT '{}',
    allowed_cidrs text[] NOT NULL DEFAULT '{}',
    rate_limit    integer NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX api_keys_digest ON api_keys (digest);
CREATE INDEX api_keys_user ON api_keys (user_id) WHERE user_id IS NOT NULL;
CREATE INDEX api_keys_workspace ON api_keys (workspace_id) WHERE workspace_id IS NOT NULL;
CREATE INDEX api_keys_org ON api_keys (org_id) WHERE org_id IS NOT NULL;

-- An organization key's grants: a level on one workspace or one workflow.
-- One grant per (key, target), as bbolt keys them.
CREATE TABLE key_grants (
    key_id      text COLLATE "C" NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    target_type text NOT NULL,
    target_id   text COLLATE "C" NOT NULL,
    level       text NOT NULL,
    PRIMARY KEY (key_id, target_id)
);
CREATE INDEX key_grants_target ON key_grants (target_id);

CREATE TABLE audit (
    id           text COLLATE "C" PRIMARY KEY, -- ULID: time-ordered
    time         timestamptz NOT NULL,
    action       text NOT NULL,
    key_id       text COLLATE "C" NOT NULL DEFAULT '',
    actor_id     text NOT NULL DEFAULT '',
    workspace_id text NOT NULL DEFAULT '',
    org_id       text NOT NULL DEFAULT '',
    reason       text NOT NULL DEFAULT '',
    ip           text NOT NULL DEFAULT '',
    transport    text NOT NULL DEFAULT ''
);
CREATE INDEX audit_key ON audit (key_id, id);

CREATE TABLE mcp_servers (
    id           text PRIMARY KEY,
    workspace_id text NOT NULL,
    name         text NOT NULL,
    description  text NOT NULL DEFAULT '',
    workflow_ids text[] NOT NULL DEFAULT '{}',
    created_by   text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);
CREATE INDEX mcp_servers_workspace ON mcp_servers (workspace_id);

-- Environment variables: a workspace's (workspace_id set) or a user's (user_id set).
CREATE TABLE env_vars (
    workspace_id text NOT NULL DEFAULT '',
    user_id      text NOT NULL DEFAULT '',
    name         text NOT NULL,
    ciphertext   bytea NOT NULL,
    updated_at   timestamptz NOT NULL,
    updated_by   text NOT NULL DEFAULT '',
    PRIMARY KEY (workspace_id, user_id, name),
    CHECK ((workspace_id = '') <> (user_id = ''))
);

CREATE TABLE model_providers (
    id            text PRIMARY KEY,
    workspace_id  text NOT NULL,
    name          text NOT NULL,
    kind          text NOT NULL,
    base_url      text NOT NULL DEFAULT '',
    default_model text NOT NULL DEFAULT '',
    models        text[] NOT NULL DEFAULT '{}',
    is_default    boolean NOT NULL DEFAULT false,
    timeout_ms    bigint NOT NULL DEFAULT 0,
    key_sealed    bytea,
    created_by    text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);
-- Names are unique per workspace case-insensitively (bolt compares with EqualFold); at most
-- one default. PutModelProvider checks both in Go under a per-workspace lock; these back it.
CREATE UNIQUE INDEX model_providers_name ON model_providers (workspace_id, lower(name));
CREATE UNIQUE INDEX model_providers_default ON model_providers (workspace_id) WHERE is_default;

CREATE TABLE conversations (
    workspace_id text NOT NULL,
    id           text NOT NULL,
    messages     jsonb NOT NULL DEFAULT '[]',
    updated_at   timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, id)
);
CREATE INDEX conversations_updated ON conversations (updated_at);

CREATE TABLE external_mcp_servers (
    id             text PRIMARY KEY,
    workspace_id   text NOT NULL,
    name           text NOT NULL,
    url            text NOT NULL,
    header_names   text[] NOT NULL DEFAULT '{}',
    headers_sealed bytea,
    created_by     text NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL
);
CREATE UNIQUE INDEX external_mcp_servers_name ON external_mcp_servers (workspace_id, lower(name));

CREATE TABLE schedules (
    workflow_id       text NOT NULL,
    block_id          text NOT NULL,
    workspace_id      text NOT NULL,
    block_name        text NOT NULL DEFAULT '',
    version           bigint NOT NULL DEFAULT 0,
    cron              text NOT NULL,
    timezone          text NOT NULL DEFAULT '',
    next_run_at       timestamptz NOT NULL,
    last_run_at       timestamptz,
    last_execution_id text NOT NULL DEFAULT '',
    last_error        text NOT NULL DEFAULT '',
    created_at        timestamptz NOT NULL,
    PRIMARY KEY (workflow_id, block_id)
);

-- Runs suspended at human_in_the_loop blocks and async waits. pause_points is the
-- store.PausePoint list as JSON; next_resume_at indexes the due time waits.
CREATE TABLE paused_runs (
    execution_id     text PRIMARY KEY,
    workflow_id      text NOT NULL,
    workspace_id     text NOT NULL,
    version          bigint NOT NULL DEFAULT 0,
    trigger          text NOT NULL DEFAULT '',
    trigger_block_id text NOT NULL DEFAULT '',
    key_id           text NOT NULL DEFAULT '',
    user_id          text NOT NULL DEFAULT '',
    billed_to        text NOT NULL DEFAULT '',
    status           text NOT NULL,
    pause_points     jsonb NOT NULL DEFAULT '[]',
    resuming_context text NOT NULL DEFAULT '',
    paused_at        timestamptz NOT NULL,
    next_resume_at   timestamptz,
    state            bytea
);
CREATE INDEX paused_runs_workflow ON paused_runs (workflow_id, execution_id);
CREATE INDEX paused_runs_due ON paused_runs (next_resume_at) WHERE status = 'paused' AND next_resume_at IS NOT NULL;

CREATE TABLE oauth_clients (
    id            text COLLATE "C" PRIMARY KEY,
    name          text NOT NULL,
    redirect_uris text[] NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL,
    last_used_at  timestamptz NOT NULL
);
CREATE INDEX oauth_clients_last_used ON oauth_clients (last_used_at);

CREATE TABLE oauth_grants (
    id            text COLLATE "C" PRIMARY KEY,
    client_id     text NOT NULL,
    client_name   text NOT NULL DEFAULT '',
    redirect_host text NOT NULL DEFAULT '',
    user_id       text NOT NULL,
    workspace_id  text NOT NULL,
    workflows     text[] NOT NULL DEFAULT '{}',
    level         text NOT NULL,
    resource      text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL,
    last_used_at  timestamptz,
    revoked_at    timestamptz,
    expires_at    timestamptz NOT NULL
);
CREATE INDEX oauth_grants_user ON oauth_grants (user_id, id);
CREATE INDEX oauth_grants_workspace ON oauth_grants (workspace_id, id);
CREATE INDEX oauth_grants_client ON oauth_grants (client_id);

CREATE TABLE oauth_tokens (
    digest     bytea PRIMARY KEY,
    grant_id   text COLLATE "C" NOT NULL REFERENCES oauth_grants (id) ON DELETE CASCADE,
    refresh    boolean NOT NULL DEFAULT false,
    expires_at timestamptz NOT NULL,
    rotated_at timestamptz
);
CREATE INDEX oauth_tokens_grant ON oauth_tokens (grant_id);
