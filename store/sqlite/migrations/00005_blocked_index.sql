-- +goose Up
-- Metrics and the scheduler count blocked instances often; few are blocked.
CREATE INDEX task_instances_blocked ON task_instances (id) WHERE blocked <> '';

-- +goose Down
DROP INDEX task_instances_blocked;
