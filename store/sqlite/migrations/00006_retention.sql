-- +goose Up
-- Retention: how long a pipeline keeps its finished runs (0: the server's
-- default), an index to find the oldest finished runs of a pipeline, and
-- leases on periodic jobs so one scheduler at a time runs each.
ALTER TABLE pipelines ADD COLUMN retention_us INTEGER NOT NULL DEFAULT 0;
CREATE INDEX runs_pipeline_finished ON runs (pipeline_id, finished_at) WHERE finished_at IS NOT NULL;
CREATE TABLE jobs (
    name             TEXT PRIMARY KEY,
    holder           TEXT NOT NULL DEFAULT '',
    lease_expires_at INTEGER NOT NULL DEFAULT 0,
    last_done_at     INTEGER NOT NULL DEFAULT 0,
    last_result      TEXT NOT NULL DEFAULT '',
    -- config is the settings the schedulers run the job with, for others
    -- to show (the default retention, for the API's cleanup preview).
    config           TEXT NOT NULL DEFAULT ''
);

-- +goose Down
DROP TABLE jobs;
DROP INDEX runs_pipeline_finished;
ALTER TABLE pipelines DROP COLUMN retention_us;
