-- +goose NO TRANSACTION
-- +goose Up
-- Capacity planning reads, pipeline by pipeline, the runs that started in
-- a window of days (and through them their attempts, task instances and
-- outputs), and the oldest run each pipeline still has.
--
-- CONCURRENTLY: on a large runs table a plain CREATE INDEX would block
-- every write to it while the index builds, in the middle of a rolling
-- upgrade. It cannot run in a transaction, hence NO TRANSACTION. A build
-- that was interrupted leaves an invalid index behind and this migration
-- unrecorded; the DROP clears it so the retry builds it whole.
DROP INDEX CONCURRENTLY IF EXISTS runs_pipeline_started;
CREATE INDEX CONCURRENTLY runs_pipeline_started ON runs (pipeline_id, started_at);

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS runs_pipeline_started;
