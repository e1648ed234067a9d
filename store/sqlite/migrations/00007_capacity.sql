-- +goose Up
-- Capacity planning reads, pipeline by pipeline, the runs that started in
-- a window of days (and through them their attempts, task instances and
-- outputs), and the oldest run each pipeline still has.
CREATE INDEX runs_pipeline_started ON runs (pipeline_id, started_at);

-- +goose Down
DROP INDEX runs_pipeline_started;
