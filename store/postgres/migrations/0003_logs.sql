-- Executions (store.Logs). The table is partitioned by month on started_at: the writer
-- creates a month's partition before its first insert there (executions_pYYYYMM, bounds in
-- UTC), and retention drops a whole partition when every row in it is past the cut-off
-- instead of deleting row by row. A partitioned table's unique indexes must include the
-- partition key, so the primary key is (id, started_at) and the uniqueness the store
-- promises beyond it (one execution per run id and workflow) lives in execution_run_ids,
-- written in the same transaction. The writer (logs_writer.go) writes a batch of records
-- set-based: claim run ids, lock the rows they replace, upsert from unnest(...). The big opaque fields are bytea: their bytes come back
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
    -- store.DurationBucket(duration_ms): the histogram bucket the rollups counted this
    -- record in, which a replacing write takes it out of.
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
-- per workspace, changed in the writer's transaction and kept when executions are
-- pruned. hist[i+1] counts the durations in store.DurationBucket i; the writer adds to it
-- in SQL (logs_hist_add) and keeps hist_bin = logs_hist_sparse(hist) beside it, which
-- Metrics reads: sending a bigint[] to a client costs a function call per element, ten
-- times the rest of the query, while hist_bin is a few bytes per non-empty bucket.
CREATE TABLE execution_rollups (
    workflow_id text             NOT NULL,
    hour        timestamptz      NOT NULL,
    count       bigint           NOT NULL,
    errors      bigint           NOT NULL,
    cost        double precision NOT NULL,
    hist        bigint[]         NOT NULL,
    hist_bin    bytea            NOT NULL,
    PRIMARY KEY (workflow_id, hour)
);

CREATE TABLE execution_rollups_ws (
    workspace_id text             NOT NULL,
    hour         timestamptz      NOT NULL,
    count        bigint           NOT NULL,
    errors       bigint           NOT NULL,
    cost         double precision NOT NULL,
    hist         bigint[]         NOT NULL,
    hist_bin     bytea            NOT NULL,
    PRIMARY KEY (workspace_id, hour)
);

-- logs_hist_add adds two histograms bucket by bucket.
CREATE FUNCTION logs_hist_add(a bigint[], b bigint[]) RETURNS bigint[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT array_agg(coalesce(x, 0) + coalesce(y, 0) ORDER BY i) FROM unnest(a, b) WITH ORDINALITY AS u(x, y, i)
$$;

-- logs_hist_sparse encodes a histogram's non-empty buckets as (int2 position from 1, int8
-- count) pairs, big-endian.
CREATE FUNCTION logs_hist_sparse(h bigint[]) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(string_agg(int2send(i::smallint) || int8send(v), ''::bytea ORDER BY i), ''::bytea)
      FROM unnest(h) WITH ORDINALITY AS u(v, i) WHERE v <> 0
$$;
