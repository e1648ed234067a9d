-- +goose NO TRANSACTION
-- +goose Up
-- Every task writes four rows on its way (the claim's update of its
-- instance and insert of its attempt, the completion's update of both),
-- and state is in the predicate of partial indexes, so each of those
-- writes adds an entry to every index of its table. A profile of a
-- 10,000-task fan-out with 4 worker processes had index inserts as the
-- largest cost of PostgreSQL, which is itself three quarters of the
-- machine; the foreign key check of each attempt insert (a query and a
-- row lock on the instance) came next. Three of those writes go:
--
-- - task_instances (run_id, state): what reads by run and state reads
--   failed instances (a run's end, "rerun failed"); a partial index of
--   failed instances by run serves them and is written only on failure.
--   The other reads by run and state are rare operations (a backfill's
--   pause, a run's reset), served by the (run_id, task_id, map_index) key.
-- - attempts (run_id): attempts are read by run through their instances
--   (the run's instances by the key above, their attempts by
--   (instance_id, number)).
-- - the foreign key from attempts to task_instances: the store deletes a
--   run's or an instance's attempts itself, with the instances locked so
--   that no claim adds one meanwhile (sqlstore deleteAttempts).
--
-- CONCURRENTLY and retry-safe, as in 00007.
CREATE INDEX CONCURRENTLY IF NOT EXISTS task_instances_run_failed ON task_instances (run_id)
    WHERE state IN ('failed', 'upstream_failed');
DROP INDEX CONCURRENTLY IF EXISTS task_instances_run_state;
DROP INDEX CONCURRENTLY IF EXISTS attempts_run;
ALTER TABLE attempts DROP CONSTRAINT IF EXISTS attempts_instance_id_fkey;

-- +goose Down
DELETE FROM attempts a WHERE NOT EXISTS (SELECT 1 FROM task_instances ti WHERE ti.id = a.instance_id);
ALTER TABLE attempts ADD CONSTRAINT attempts_instance_id_fkey FOREIGN KEY (instance_id) REFERENCES task_instances (id) ON DELETE CASCADE;
CREATE INDEX CONCURRENTLY IF NOT EXISTS attempts_run ON attempts (run_id);
CREATE INDEX CONCURRENTLY IF NOT EXISTS task_instances_run_state ON task_instances (run_id, state);
DROP INDEX CONCURRENTLY IF EXISTS task_instances_run_failed;
