-- +goose Up
-- Every task's state changes write an entry into every index of its
-- instance's and its attempt's tables (state is in the predicate of
-- partial indexes). Two indexes whose reads other paths serve go (see the
-- PostgreSQL migration of the same number):
-- - task_instances (run_id, state): a partial index of failed instances
--   by run serves the reads of failed instances of a run;
-- - attempts (run_id): attempts are read by run through their instances.
-- The foreign key from attempts to task_instances stays here: SQLite
-- cannot drop one without copying the table, and it costs little on one
-- writer. The store deletes attempts itself all the same.
CREATE INDEX task_instances_run_failed ON task_instances (run_id) WHERE state IN ('failed', 'upstream_failed');
DROP INDEX task_instances_run_state;
DROP INDEX attempts_run;

-- +goose Down
CREATE INDEX attempts_run ON attempts (run_id);
CREATE INDEX task_instances_run_state ON task_instances (run_id, state);
DROP INDEX task_instances_run_failed;
