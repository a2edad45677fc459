-- Cancels asked for runs another replica holds outside the job queue (sync runs, resumes):
-- announced on NOTIFY steelengine_cancel, and read back by the holder at its next heartbeat
-- in case the announcement was missed. Rows go once the holder must have seen them.
CREATE TABLE run_cancels (
    execution_id text PRIMARY KEY,
    requested_at timestamptz NOT NULL DEFAULT now()
);
