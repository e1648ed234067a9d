-- +goose Up
-- Workers announce themselves, so schedulers can tell a task no live
-- worker can run (missing labels, no worker at all) from one that waits.
CREATE TABLE workers (
    id           TEXT PRIMARY KEY,
    hostname     TEXT NOT NULL DEFAULT '',
    pid          INTEGER NOT NULL DEFAULT 0,
    labels       TEXT NOT NULL DEFAULT '',
    concurrency  INTEGER NOT NULL DEFAULT 0,
    version      TEXT NOT NULL DEFAULT '',
    draining     INTEGER NOT NULL DEFAULT 0,
    -- problems the worker's own environment check found at start (JSON)
    problems     TEXT NOT NULL DEFAULT '[]',
    started_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL
);

-- A pipeline whose file left the pipelines folder: no new runs, history
-- kept until it is deleted.
ALTER TABLE pipelines ADD COLUMN missing INTEGER NOT NULL DEFAULT 0;

-- Why a ready task cannot start (no worker with its labels, a pool that
-- cannot hold it …), and how long it may wait so before it fails.
ALTER TABLE version_tasks ADD COLUMN queued_timeout_us INTEGER NOT NULL DEFAULT 3600000000;
ALTER TABLE task_instances ADD COLUMN queued_timeout_us INTEGER NOT NULL DEFAULT 3600000000;
ALTER TABLE task_instances ADD COLUMN blocked TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE task_instances DROP COLUMN blocked;
ALTER TABLE task_instances DROP COLUMN queued_timeout_us;
ALTER TABLE version_tasks DROP COLUMN queued_timeout_us;
ALTER TABLE pipelines DROP COLUMN missing;
DROP TABLE workers;
