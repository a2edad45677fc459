-- The runs each replica holds outside the job queue (sync runs, resumes), as of its last
-- heartbeat: a run recorded as running that no live replica holds and no job carries lost
-- its replica, and is settled by the others (core.Service.Recover).
ALTER TABLE replicas ADD COLUMN runs text[] NOT NULL DEFAULT '{}';

-- Resumes in flight, which the same settling looks through (ResumingPausedRuns).
CREATE INDEX paused_runs_resuming ON paused_runs (execution_id) WHERE status = 'resuming';
