-- +goose Up
-- Pools: named numbers of slots that limit how many task instances run at
-- once across all workers.
CREATE TABLE pools (
    name        TEXT PRIMARY KEY,
    slots       INTEGER NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

-- Secrets, encrypted by the processes (AES-256-GCM); the database never
-- sees a value in the clear.
CREATE TABLE secrets (
    name       TEXT PRIMARY KEY,
    value      BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- Variables: plain named values for ${{ vars.<name> }}.
CREATE TABLE variables (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);

-- Callbacks to run (on_success, on_failure, on_retry), written in the same
-- transaction as the event, claimed by workers with a lease.
CREATE TABLE callbacks (
    id               INTEGER PRIMARY KEY,
    run_id           INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    task_id          TEXT NOT NULL DEFAULT '',
    map_index        INTEGER NOT NULL DEFAULT -1,
    event            TEXT NOT NULL,
    -- attempt is the attempt the event is about, for task callbacks.
    attempt          INTEGER NOT NULL DEFAULT 0,
    state            TEXT NOT NULL,
    worker           TEXT NOT NULL DEFAULT '',
    token            INTEGER NOT NULL DEFAULT 0,
    lease_expires_at INTEGER,
    tries            INTEGER NOT NULL DEFAULT 0,
    error            TEXT NOT NULL DEFAULT '',
    created_at       INTEGER NOT NULL,
    finished_at      INTEGER
);
CREATE INDEX callbacks_pending ON callbacks (id) WHERE state IN ('pending', 'running');
CREATE INDEX callbacks_run ON callbacks (run_id);

-- Backfills: runs created for a range of past logical dates.
CREATE TABLE backfills (
    id          INTEGER PRIMARY KEY,
    pipeline_id TEXT NOT NULL REFERENCES pipelines (id) ON DELETE CASCADE,
    from_date   INTEGER NOT NULL,
    to_date     INTEGER NOT NULL,
    rerun       TEXT NOT NULL,
    state       TEXT NOT NULL,
    created_by  TEXT NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL
);
ALTER TABLE runs ADD COLUMN backfill_id INTEGER;
CREATE INDEX runs_backfill ON runs (backfill_id) WHERE backfill_id IS NOT NULL;

-- +goose Down
DROP INDEX runs_backfill;
ALTER TABLE runs DROP COLUMN backfill_id;
DROP TABLE backfills;
DROP TABLE callbacks;
DROP TABLE variables;
DROP TABLE secrets;
DROP TABLE pools;
