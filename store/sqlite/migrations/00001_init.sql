-- +goose Up
-- Times are integer microseconds since the Unix epoch, UTC.
-- Booleans are integers 0/1.

CREATE TABLE pipelines (
    id                TEXT PRIMARY KEY,
    version_id        INTEGER,
    file              TEXT NOT NULL DEFAULT '',
    paused            INTEGER NOT NULL DEFAULT 0,
    schedule          TEXT NOT NULL DEFAULT '',
    max_active_runs   INTEGER NOT NULL DEFAULT 16,
    max_active_tasks  INTEGER NOT NULL DEFAULT 0,
    next_due_at       INTEGER,
    last_scheduled_at INTEGER,
    parse_error       TEXT NOT NULL DEFAULT '',
    parse_error_at    INTEGER,
    loaded_at         INTEGER NOT NULL,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
);
CREATE INDEX pipelines_due ON pipelines (next_due_at) WHERE next_due_at IS NOT NULL;

CREATE TABLE versions (
    id          INTEGER PRIMARY KEY,
    pipeline_id TEXT NOT NULL REFERENCES pipelines (id) ON DELETE CASCADE,
    hash        TEXT NOT NULL,
    source      TEXT NOT NULL,
    spec        TEXT NOT NULL,
    file        TEXT NOT NULL DEFAULT '',
    -- callbacks: 1 on_success, 2 on_failure of the pipeline's runs.
    callbacks        INTEGER NOT NULL DEFAULT 0,
    max_active_tasks INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    UNIQUE (pipeline_id, hash)
);

-- What scheduling needs of each task, so the store never parses a pipeline.
CREATE TABLE version_tasks (
    version_id          INTEGER NOT NULL REFERENCES versions (id) ON DELETE CASCADE,
    task_id             TEXT NOT NULL,
    upstream_count      INTEGER NOT NULL,
    trigger_rule        TEXT NOT NULL,
    priority            INTEGER NOT NULL,
    retries             INTEGER NOT NULL,
    retry_delay_us      INTEGER NOT NULL,
    retry_exponential   INTEGER NOT NULL,
    max_retry_delay_us  INTEGER NOT NULL,
    pool                TEXT NOT NULL DEFAULT '',
    pool_slots          INTEGER NOT NULL DEFAULT 1,
    -- requires: worker labels as ",a,b," ('' for none).
    requires            TEXT NOT NULL DEFAULT '',
    mapped              INTEGER NOT NULL DEFAULT 0,
    max_parallel        INTEGER NOT NULL DEFAULT 0,
    -- callbacks: 1 on_success, 2 on_failure, 4 on_retry.
    callbacks           INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (version_id, task_id)
);

CREATE TABLE version_edges (
    version_id INTEGER NOT NULL REFERENCES versions (id) ON DELETE CASCADE,
    upstream   TEXT NOT NULL,
    downstream TEXT NOT NULL,
    PRIMARY KEY (version_id, upstream, downstream)
);

CREATE TABLE runs (
    id           INTEGER PRIMARY KEY,
    pipeline_id  TEXT NOT NULL REFERENCES pipelines (id) ON DELETE CASCADE,
    version_id   INTEGER NOT NULL REFERENCES versions (id),
    key          TEXT NOT NULL,
    kind         TEXT NOT NULL,
    logical_date INTEGER NOT NULL,
    params       TEXT NOT NULL DEFAULT '{}',
    state        TEXT NOT NULL,
    -- unfinished counts the run's instances not yet in a final state; the
    -- run finishes when it reaches 0.
    unfinished   INTEGER NOT NULL DEFAULT 0,
    -- A run started by a pipeline: task of another run.
    parent_run_id INTEGER,
    parent_task  TEXT NOT NULL DEFAULT '',
    callbacks    INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL,
    started_at   INTEGER,
    finished_at  INTEGER,
    UNIQUE (pipeline_id, key)
);
CREATE INDEX runs_pipeline_state ON runs (pipeline_id, state, logical_date);

CREATE TABLE task_instances (
    id                  INTEGER PRIMARY KEY,
    run_id              INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    task_id             TEXT NOT NULL,
    -- map_index is -1 for a task, and the item's index for the instances
    -- a mapped task (for_each) expands into; parent_id points at it.
    map_index           INTEGER NOT NULL DEFAULT -1,
    parent_id           INTEGER,
    item                TEXT,
    pipeline_id         TEXT NOT NULL,
    state               TEXT NOT NULL,
    priority            INTEGER NOT NULL,
    ready_at            INTEGER,
    attempts            INTEGER NOT NULL DEFAULT 0,
    failures            INTEGER NOT NULL DEFAULT 0,
    retries             INTEGER NOT NULL,
    retry_delay_us      INTEGER NOT NULL,
    retry_exponential   INTEGER NOT NULL,
    max_retry_delay_us  INTEGER NOT NULL,
    trigger_rule        TEXT NOT NULL,
    -- Upstream instances by final state, kept up to date as they finish so
    -- readiness is decided without reading them.
    up_total            INTEGER NOT NULL,
    up_success          INTEGER NOT NULL DEFAULT 0,
    up_failed           INTEGER NOT NULL DEFAULT 0,
    up_upstream_failed  INTEGER NOT NULL DEFAULT 0,
    up_skipped          INTEGER NOT NULL DEFAULT 0,
    pool                TEXT NOT NULL DEFAULT '',
    pool_slots          INTEGER NOT NULL DEFAULT 1,
    requires            TEXT NOT NULL DEFAULT '',
    -- limited: claims must check a limit (a pool, max_parallel of its
    -- mapped task, max_active_tasks of its pipeline).
    limited             INTEGER NOT NULL DEFAULT 0,
    mapped              INTEGER NOT NULL DEFAULT 0,
    max_parallel        INTEGER NOT NULL DEFAULT 0,
    items_total         INTEGER NOT NULL DEFAULT 0,
    items_success       INTEGER NOT NULL DEFAULT 0,
    items_failed        INTEGER NOT NULL DEFAULT 0,
    items_skipped       INTEGER NOT NULL DEFAULT 0,
    callbacks           INTEGER NOT NULL DEFAULT 0,
    started_at          INTEGER,
    finished_at         INTEGER,
    updated_at          INTEGER NOT NULL,
    UNIQUE (run_id, task_id, map_index)
);
CREATE INDEX task_instances_claimable ON task_instances (priority DESC, ready_at, id)
    WHERE state IN ('queued', 'up_for_retry', 'up_for_reschedule');
CREATE INDEX task_instances_limited ON task_instances (id)
    WHERE limited AND state IN ('queued', 'up_for_retry', 'up_for_reschedule');
CREATE INDEX task_instances_pool_running ON task_instances (pool) WHERE state = 'running' AND pool <> '';
CREATE INDEX task_instances_pipeline_running ON task_instances (pipeline_id) WHERE state = 'running';
CREATE INDEX task_instances_children ON task_instances (parent_id, state) WHERE parent_id IS NOT NULL;
CREATE INDEX task_instances_run_state ON task_instances (run_id, state);

CREATE TABLE attempts (
    id               INTEGER PRIMARY KEY,
    instance_id      INTEGER NOT NULL REFERENCES task_instances (id) ON DELETE CASCADE,
    run_id           INTEGER NOT NULL,
    task_id          TEXT NOT NULL,
    number           INTEGER NOT NULL,
    worker           TEXT NOT NULL,
    token            INTEGER NOT NULL,
    state            TEXT NOT NULL,
    lease_expires_at INTEGER NOT NULL,
    started_at       INTEGER NOT NULL,
    finished_at      INTEGER,
    exit_code        INTEGER,
    error            TEXT NOT NULL DEFAULT '',
    UNIQUE (instance_id, number)
);
CREATE INDEX attempts_lease ON attempts (lease_expires_at) WHERE state = 'running';
CREATE INDEX attempts_run ON attempts (run_id);

CREATE TABLE log_chunks (
    attempt_id INTEGER NOT NULL REFERENCES attempts (id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL,
    data       BLOB NOT NULL,
    PRIMARY KEY (attempt_id, seq)
);

CREATE TABLE outputs (
    instance_id INTEGER NOT NULL REFERENCES task_instances (id) ON DELETE CASCADE,
    key         TEXT NOT NULL,
    value       TEXT NOT NULL,
    PRIMARY KEY (instance_id, key)
);

-- +goose Down
DROP TABLE outputs;
DROP TABLE log_chunks;
DROP TABLE attempts;
DROP TABLE task_instances;
DROP TABLE runs;
DROP TABLE version_edges;
DROP TABLE version_tasks;
DROP TABLE versions;
DROP TABLE pipelines;
