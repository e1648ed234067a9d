-- +goose Up
-- Retry-safe (IF NOT EXISTS): a process that died while applying it
-- leaves it to the next one to apply again.
-- The pipelines list filters and searches in SQL, so what it filters on
-- lives on the pipeline's row (description, the live version's tags as
-- ",a,b," text for showing) and in pipeline_tags (one row a tag, indexed
-- by tag, for filtering). PipelineSave keeps them in step with the live
-- version.
ALTER TABLE pipelines ADD COLUMN IF NOT EXISTS description TEXT NOT NULL DEFAULT '';
ALTER TABLE pipelines ADD COLUMN IF NOT EXISTS tags TEXT NOT NULL DEFAULT '';
UPDATE pipelines SET description = COALESCE((SELECT (v.spec::jsonb ->> 'description') FROM versions v WHERE v.id = pipelines.version_id), '');
CREATE TABLE IF NOT EXISTS pipeline_tags (
    tag         TEXT NOT NULL,
    pipeline_id TEXT NOT NULL REFERENCES pipelines (id) ON DELETE CASCADE,
    PRIMARY KEY (tag, pipeline_id)
);
CREATE INDEX IF NOT EXISTS pipeline_tags_pipeline ON pipeline_tags (pipeline_id);
-- Browse lists runs and task instances across pipelines, newest first,
-- by state.
CREATE INDEX IF NOT EXISTS runs_state_id ON runs (state, id);
-- Browse's "what failed": a partial index, so the hot path (every state
-- change of every task) does not write it.
CREATE INDEX IF NOT EXISTS task_instances_failed ON task_instances (id) WHERE state IN ('failed', 'upstream_failed');

-- +goose Down
DROP INDEX task_instances_failed;
DROP INDEX runs_state_id;
DROP TABLE pipeline_tags;
ALTER TABLE pipelines DROP COLUMN tags;
ALTER TABLE pipelines DROP COLUMN description;
