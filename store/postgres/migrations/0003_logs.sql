-- Executions (store.Logs). The table is partitioned by month on started_at: the writer
-- creates a month's partition before its first insert there (executions_pYYYYMM, bounds in
-- UTC), and retention drops a whole partition when every row in it is past the cut-off
-- instead of deleting row by row. A partitioned table's unique indexes must include the
-- partition key, so the primary key is (id, started_at) and the uniqueness the store
-- promises beyond it (one execution per run id and workflow) lives in execution_run_ids,
-- written in the same transaction. The big opaque fields are bytea: their bytes come back
-- exactly as written.
CREATE TABLE executions (
    -- Byte order (COLLATE "C") for ids: pages order ties by id as store/bolt does.
    id               text COLLATE "C" NOT NULL,
    workspace_id     text COLLATE "C" NOT NULL,
    workflow_id      text COLLATE "C" NOT NULL,
    version          bigint           NOT NULL DEFAULT 0,
    trigger          text             NOT NULL DEFAULT '',
    status           text             NOT NULL DEFAULT '',
    level            text             NOT NULL DEFAULT '',
    started_at       timestamptz      NOT NULL,
    ended_at         timestamptz,
    duration_ms      bigint           NOT NULL DEFAULT 0,
    -- store.DurationBucket(duration_ms): which histogram bucket the rollups counted this
    -- record in, so a replacing write takes it out again without Go.
    duration_bucket  smallint         NOT NULL DEFAULT 0,
    cost             double precision NOT NULL DEFAULT 0,
    error            text             NOT NULL DEFAULT '',
    error_code       text             NOT NULL DEFAULT '',
    key_id           text             NOT NULL DEFAULT '',
    user_id          text             NOT NULL DEFAULT '',
    billed_to        text             NOT NULL DEFAULT '',
    run_id           text             NOT NULL DEFAULT '',
    trigger_block_id text             NOT NULL DEFAULT '',
    truncated        boolean          NOT NULL DEFAULT false,
    input            bytea,
    output           bytea,
    block_logs       bytea,
    trace_spans      bytea,
    PRIMARY KEY (id, started_at)
) PARTITION BY RANGE (started_at);

-- The logs API's keyset pages: (started_at, id) after a cursor, per workspace or
-- workflow, scanned forwards (asc) or backwards (desc).
CREATE INDEX executions_workspace_time ON executions (workspace_id, started_at, id);
CREATE INDEX executions_workflow_time ON executions (workflow_id, started_at, id);
-- Prune by time inside the partitions it cannot drop whole.
CREATE INDEX executions_time ON executions (started_at);
-- What a restart must settle: few rows, so a small partial index.
CREATE INDEX executions_open ON executions (id) WHERE status IN ('queued', 'running');

CREATE TABLE execution_run_ids (
    workflow_id  text        NOT NULL,
    run_id       text        NOT NULL,
    execution_id text        NOT NULL,
    started_at   timestamptz NOT NULL,
    PRIMARY KEY (workflow_id, run_id)
);

-- Hourly rollups of finished executions (completed, failed, cancelled) per workflow and
-- per workspace, maintained by logs_put in the writer's transaction and kept when
-- executions are pruned. hist counts durations per store.DurationBucket (1-based here).
CREATE TABLE execution_rollups (
    workflow_id text             NOT NULL,
    hour        timestamptz      NOT NULL,
    count       bigint           NOT NULL,
    errors      bigint           NOT NULL,
    cost        double precision NOT NULL,
    hist        bigint[]         NOT NULL,
    PRIMARY KEY (workflow_id, hour)
);

CREATE TABLE execution_rollups_ws (
    workspace_id text             NOT NULL,
    hour         timestamptz      NOT NULL,
    count        bigint           NOT NULL,
    errors       bigint           NOT NULL,
    cost         double precision NOT NULL,
    hist         bigint[]         NOT NULL,
    PRIMARY KEY (workspace_id, hour)
);

-- logs_rollup adds (sign 1) or removes (sign -1) one finished execution's contribution
-- to its workflow's and workspace's hour.
CREATE FUNCTION logs_rollup(p_ws text, p_wf text, p_started_at timestamptz, p_status text,
                            p_cost double precision, p_bucket integer, p_sign integer)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    hr  timestamptz := date_trunc('hour', p_started_at, 'UTC');
    err bigint := CASE WHEN p_status = 'failed' THEN p_sign ELSE 0 END;
    h   bigint[] := array_fill(0::bigint, ARRAY[128]);
BEGIN
    h[p_bucket + 1] := p_sign;
    INSERT INTO execution_rollups AS r (workflow_id, hour, count, errors, cost, hist)
    VALUES (p_wf, hr, p_sign, err, p_sign * p_cost, h)
    ON CONFLICT (workflow_id, hour) DO UPDATE
        SET count = r.count + p_sign, errors = r.errors + err, cost = r.cost + p_sign * p_cost,
            hist[p_bucket + 1] = r.hist[p_bucket + 1] + p_sign;
    INSERT INTO execution_rollups_ws AS r (workspace_id, hour, count, errors, cost, hist)
    VALUES (p_ws, hr, p_sign, err, p_sign * p_cost, h)
    ON CONFLICT (workspace_id, hour) DO UPDATE
        SET count = r.count + p_sign, errors = r.errors + err, cost = r.cost + p_sign * p_cost,
            hist[p_bucket + 1] = r.hist[p_bucket + 1] + p_sign;
END $$;

-- logs_put inserts or replaces (same id) one execution with its run id and rollup
-- changes: the writer sends one call per record, many in one pipelined transaction. A run
-- id another execution of the workflow holds fails with SQLSTATE SE409.
CREATE FUNCTION logs_put(
    p_id text, p_workspace_id text, p_workflow_id text, p_version bigint, p_trigger text,
    p_status text, p_level text, p_started_at timestamptz, p_ended_at timestamptz,
    p_duration_ms bigint, p_duration_bucket smallint, p_cost double precision, p_error text,
    p_error_code text, p_key_id text, p_user_id text, p_billed_to text, p_run_id text,
    p_trigger_block_id text, p_truncated boolean, p_input bytea, p_output bytea,
    p_block_logs bytea, p_trace_spans bytea)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    prev record;
BEGIN
    IF p_run_id <> '' THEN
        INSERT INTO execution_run_ids AS r (workflow_id, run_id, execution_id, started_at)
        VALUES (p_workflow_id, p_run_id, p_id, p_started_at)
        ON CONFLICT (workflow_id, run_id) DO UPDATE SET started_at = excluded.started_at
            WHERE r.execution_id = excluded.execution_id;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'run id % of workflow % belongs to another execution', p_run_id, p_workflow_id
                USING ERRCODE = 'SE409';
        END IF;
    END IF;

    SELECT e.workspace_id, e.workflow_id, e.started_at, e.status, e.cost, e.duration_bucket, e.run_id
      INTO prev FROM executions e WHERE e.id = p_id LIMIT 1 FOR UPDATE;
    IF FOUND THEN
        IF prev.run_id <> '' AND (prev.run_id <> p_run_id OR prev.workflow_id <> p_workflow_id) THEN
            DELETE FROM execution_run_ids
             WHERE workflow_id = prev.workflow_id AND run_id = prev.run_id AND execution_id = p_id;
        END IF;
        IF prev.status IN ('completed', 'failed', 'cancelled') THEN
            PERFORM logs_rollup(prev.workspace_id, prev.workflow_id, prev.started_at, prev.status,
                                prev.cost, prev.duration_bucket, -1);
        END IF;
        IF prev.started_at <> p_started_at THEN
            DELETE FROM executions WHERE id = p_id AND started_at = prev.started_at;
        END IF;
    END IF;
    IF p_status IN ('completed', 'failed', 'cancelled') THEN
        PERFORM logs_rollup(p_workspace_id, p_workflow_id, p_started_at, p_status, p_cost,
                            p_duration_bucket, 1);
    END IF;

    INSERT INTO executions AS e (id, workspace_id, workflow_id, version, trigger, status, level,
        started_at, ended_at, duration_ms, duration_bucket, cost, error, error_code, key_id,
        user_id, billed_to, run_id, trigger_block_id, truncated, input, output, block_logs,
        trace_spans)
    VALUES (p_id, p_workspace_id, p_workflow_id, p_version, p_trigger, p_status, p_level,
        p_started_at, p_ended_at, p_duration_ms, p_duration_bucket, p_cost, p_error,
        p_error_code, p_key_id, p_user_id, p_billed_to, p_run_id, p_trigger_block_id,
        p_truncated, p_input, p_output, p_block_logs, p_trace_spans)
    ON CONFLICT (id, started_at) DO UPDATE SET
        workspace_id = excluded.workspace_id, workflow_id = excluded.workflow_id,
        version = excluded.version, trigger = excluded.trigger, status = excluded.status,
        level = excluded.level, ended_at = excluded.ended_at,
        duration_ms = excluded.duration_ms, duration_bucket = excluded.duration_bucket,
        cost = excluded.cost, error = excluded.error, error_code = excluded.error_code,
        key_id = excluded.key_id, user_id = excluded.user_id, billed_to = excluded.billed_to,
        run_id = excluded.run_id, trigger_block_id = excluded.trigger_block_id,
        truncated = excluded.truncated, input = excluded.input, output = excluded.output,
        block_logs = excluded.block_logs, trace_spans = excluded.trace_spans;
END $$;
