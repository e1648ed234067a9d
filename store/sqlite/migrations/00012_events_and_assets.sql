-- +goose Up
-- A trigger event (a webhook delivery, later an asset event or a file
-- arrival) is recorded in the transaction that creates its run. The unique
-- key is what makes a repeated or racing event return the first run instead
-- of making a second one. The event goes with its run: when retention (or a
-- pipeline delete) removes the run, its events go too, and a delivery with
-- the same key after that makes a new run.
CREATE TABLE trigger_events (
    id          INTEGER PRIMARY KEY,
    pipeline_id TEXT NOT NULL REFERENCES pipelines (id) ON DELETE CASCADE,
    source      TEXT NOT NULL,
    key         TEXT NOT NULL,
    -- run_id is set in the same transaction as the row is inserted; it is
    -- NULL only inside that transaction.
    run_id      INTEGER REFERENCES runs (id) ON DELETE CASCADE,
    received_at INTEGER NOT NULL,
    UNIQUE (pipeline_id, source, key)
);
CREATE INDEX trigger_events_run ON trigger_events (run_id);

-- Assets. A task's produces: are copied to its version row; a success of
-- the task records an asset event, in the transaction that records the
-- success. asset_consumers lists, per pipeline scheduled on assets, each
-- asset it waits for and the last event of it that a run of the pipeline
-- consumed; PipelineSave rewrites a pipeline's rows.
ALTER TABLE version_tasks ADD COLUMN produces TEXT NOT NULL DEFAULT '';
CREATE TABLE asset_events (
    id          INTEGER PRIMARY KEY,
    asset       TEXT NOT NULL,
    -- The producer: its pipeline, run and task; empty and NULL for an
    -- event sent through the API.
    pipeline_id TEXT NOT NULL DEFAULT '',
    run_id      INTEGER,
    task_id     TEXT NOT NULL DEFAULT '',
    extra       TEXT NOT NULL DEFAULT '{}',
    created_at  INTEGER NOT NULL
);
CREATE INDEX asset_events_asset ON asset_events (asset, id);
CREATE TABLE asset_consumers (
    pipeline_id   TEXT NOT NULL REFERENCES pipelines (id) ON DELETE CASCADE,
    asset         TEXT NOT NULL,
    last_event_id INTEGER NOT NULL DEFAULT 0,
    -- params: the JSON of the params (their defaults) of the pipeline's
    -- asset-triggered runs, the same in every row of the pipeline.
    params        TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (pipeline_id, asset)
);
CREATE INDEX asset_consumers_asset ON asset_consumers (asset);

-- +goose Down
DROP TABLE asset_consumers;
DROP TABLE asset_events;
ALTER TABLE version_tasks DROP COLUMN produces;
DROP TABLE trigger_events;
