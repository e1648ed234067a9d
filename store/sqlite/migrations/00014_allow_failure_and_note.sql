-- +goose Up
-- allow_failure: a failure of the task does not fail its run. It is copied
-- from the version to each instance (and a mapped task's items) like the
-- retry policy. up_allowed_failed counts the upstream instances that
-- failed so, apart from up_failed: trigger rules that wait for a failure
-- count them as failures, the others as successes.
ALTER TABLE version_tasks ADD COLUMN allow_failure INTEGER NOT NULL DEFAULT 0;
ALTER TABLE task_instances ADD COLUMN allow_failure INTEGER NOT NULL DEFAULT 0;
ALTER TABLE task_instances ADD COLUMN up_allowed_failed INTEGER NOT NULL DEFAULT 0;

-- note says why an instance ended with no attempt to tell it: a task
-- skipped by its when: condition keeps no attempt, and the condition is
-- its note.
ALTER TABLE task_instances ADD COLUMN note TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE task_instances DROP COLUMN note;
ALTER TABLE task_instances DROP COLUMN up_allowed_failed;
ALTER TABLE task_instances DROP COLUMN allow_failure;
ALTER TABLE version_tasks DROP COLUMN allow_failure;
