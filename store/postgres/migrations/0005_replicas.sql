-- Replicas serving now: each upserts its row every few seconds (Heartbeat). Per-key rate
-- limits are shared out among the replicas seen recently.
CREATE TABLE replicas (
    id         text PRIMARY KEY,
    started_at timestamptz NOT NULL,
    seen_at    timestamptz NOT NULL
);
