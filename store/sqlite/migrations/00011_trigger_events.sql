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

-- +goose Down
DROP TABLE trigger_events;
