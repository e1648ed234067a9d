-- +goose Up
-- The pipelines list filters and searches in SQL, so what it filters on
-- lives on the pipeline's row (description, the live version's tags as
-- ",a,b," text for showing) and in pipeline_tags (one row a tag, indexed
-- by tag, for filtering). PipelineSave keeps them in step with the live
-- version.
ALTER TABLE pipelines ADD COLUMN description TEXT NOT NULL DEFAULT '';
ALTER TABLE pipelines ADD COLUMN tags TEXT NOT NULL DEFAULT '';
UPDATE pipelines SET description = COALESCE((SELECT json_extract(v.spec, '$.description') FROM versions v WHERE v.id = pipelines.version_id), '');
CREATE TABLE pipeline_tags (
    tag         TEXT NOT NULL,
    pipeline_id TEXT NOT NULL REFERENCES pipelines (id) ON DELETE CASCADE,
    PRIMARY KEY (tag, pipeline_id)
);
CREATE INDEX pipeline_tags_pipeline ON pipeline_tags (pipeline_id);
-- Browse lists runs and task instances across pipelines, newest first,
-- by state.
CREATE INDEX runs_state_id ON runs (state, id);
-- Browse's "what failed" reads task instances that failed, newest first.
-- A partial index: an index on every instance's state would be written
-- on each of its state changes (the hot path of every task), and SQLite
-- would pick it for the claim over task_instances_claimable (a task hop
-- took twice as long, its p99 four times).
CREATE INDEX task_instances_failed ON task_instances (id) WHERE state IN ('failed', 'upstream_failed');

-- +goose Down
DROP INDEX task_instances_failed;
DROP INDEX runs_state_id;
DROP TABLE pipeline_tags;
ALTER TABLE pipelines DROP COLUMN tags;
ALTER TABLE pipelines DROP COLUMN description;
