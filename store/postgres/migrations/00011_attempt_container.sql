-- +goose Up
-- The image and container of a container task's attempt, shown with the
-- attempt; empty for every other kind of task.
ALTER TABLE attempts ADD COLUMN IF NOT EXISTS image TEXT NOT NULL DEFAULT '';
ALTER TABLE attempts ADD COLUMN IF NOT EXISTS container_id TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE attempts DROP COLUMN container_id;
ALTER TABLE attempts DROP COLUMN image;
