-- +goose Up
-- The limited index in claim order, as on PostgreSQL (see its 00008),
-- where workers look for instances with limits apart from the others.
CREATE INDEX task_instances_limited_order ON task_instances (priority DESC, ready_at, id)
    WHERE limited AND state IN ('queued', 'up_for_retry', 'up_for_reschedule');
DROP INDEX task_instances_limited;

-- +goose Down
CREATE INDEX task_instances_limited ON task_instances (id)
    WHERE limited AND state IN ('queued', 'up_for_retry', 'up_for_reschedule');
DROP INDEX task_instances_limited_order;
