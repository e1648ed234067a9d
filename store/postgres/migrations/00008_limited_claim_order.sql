-- +goose NO TRANSACTION
-- +goose Up
-- Workers on PostgreSQL claim instances without limits in one statement,
-- then look for instances with limits (a pool, max_parallel,
-- max_active_tasks) in priority order. With the limited index keyed by id
-- alone, that second query walked the whole claimable index to find the
-- few limited ones: 10,000 index entries on every claim of a 10,000-task
-- fan-out, which halved its throughput. Keyed in claim order, the partial
-- index holds only limited instances and answers the query by itself.
-- CONCURRENTLY and retry-safe, as in 00007.
DROP INDEX CONCURRENTLY IF EXISTS task_instances_limited_order;
CREATE INDEX CONCURRENTLY task_instances_limited_order ON task_instances (priority DESC, ready_at, id)
    WHERE limited AND state IN ('queued', 'up_for_retry', 'up_for_reschedule');
DROP INDEX CONCURRENTLY IF EXISTS task_instances_limited;

-- +goose Down
CREATE INDEX CONCURRENTLY IF NOT EXISTS task_instances_limited ON task_instances (id)
    WHERE limited AND state IN ('queued', 'up_for_retry', 'up_for_reschedule');
DROP INDEX CONCURRENTLY IF EXISTS task_instances_limited_order;
