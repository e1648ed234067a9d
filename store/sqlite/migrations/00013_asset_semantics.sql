-- +goose Up
-- asset_condition: when a pipeline scheduled on assets runs, as the JSON
-- of sluice.AssetCondition ({"any": [...]} / {"all": [...]}); '' for a
-- plain list, which is all of its asset_consumers rows.
ALTER TABLE pipelines ADD COLUMN asset_condition TEXT NOT NULL DEFAULT '';
-- asset_warnings: what the pipelines folder found wrong with the
-- pipeline's asset links to other pipelines (an asset nothing produces, a
-- cycle), one warning per line; '' when none.
ALTER TABLE pipelines ADD COLUMN asset_warnings TEXT NOT NULL DEFAULT '';
-- trigger_events: the JSON list of the asset events an asset-triggered
-- run consumed, copied when the run is made so that the run keeps them
-- after retention prunes the events; '' for every other run.
ALTER TABLE runs ADD COLUMN trigger_events TEXT NOT NULL DEFAULT '';
-- Bit 8 of callbacks marks a task that produces assets, so that a
-- success of any other task costs no query for them.
UPDATE version_tasks SET callbacks = callbacks | 8 WHERE produces <> '';
UPDATE task_instances SET callbacks = callbacks | 8
    WHERE map_index = -1 AND state IN ('pending', 'queued', 'up_for_retry', 'running', 'up_for_reschedule')
    AND EXISTS (SELECT 1 FROM runs r JOIN version_tasks vt ON vt.version_id = r.version_id
        WHERE r.id = task_instances.run_id AND vt.task_id = task_instances.task_id AND vt.produces <> '');
CREATE INDEX asset_events_created ON asset_events (created_at);

-- +goose Down
DROP INDEX asset_events_created;
UPDATE task_instances SET callbacks = callbacks & ~8;
UPDATE version_tasks SET callbacks = callbacks & ~8;
ALTER TABLE runs DROP COLUMN trigger_events;
ALTER TABLE pipelines DROP COLUMN asset_warnings;
ALTER TABLE pipelines DROP COLUMN asset_condition;
