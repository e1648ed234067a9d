-- +goose Up
-- The partial indexes of claimable instances say their states with ORs,
-- not IN: SQLite keeps an index's predicate up to date on every UPDATE
-- that changes state, and for an IN list of three or more constants it
-- builds a temporary table on every run of the statement (for the old
-- row and for the new), where it compares ORs' terms in place. A task
-- hop changes the state of instances in three statements: those six
-- temporary tables were ~10 µs of the completion transaction's ~175
-- (sluice bench chain --tasks 5000). The claim's queries use the same
-- condition (sqlstore's claimable), so SQLite still proves they match
-- these indexes. PostgreSQL keeps its IN lists: it plans both alike.
DROP INDEX task_instances_claimable;
CREATE INDEX task_instances_claimable ON task_instances (priority DESC, ready_at, id)
    WHERE (state = 'queued' OR state = 'up_for_retry' OR state = 'up_for_reschedule');
DROP INDEX task_instances_limited_order;
CREATE INDEX task_instances_limited_order ON task_instances (priority DESC, ready_at, id)
    WHERE limited AND (state = 'queued' OR state = 'up_for_retry' OR state = 'up_for_reschedule');

-- +goose Down
DROP INDEX task_instances_claimable;
CREATE INDEX task_instances_claimable ON task_instances (priority DESC, ready_at, id)
    WHERE state IN ('queued', 'up_for_retry', 'up_for_reschedule');
DROP INDEX task_instances_limited_order;
CREATE INDEX task_instances_limited_order ON task_instances (priority DESC, ready_at, id)
    WHERE limited AND state IN ('queued', 'up_for_retry', 'up_for_reschedule');
