-- +goose Up
-- Files triggers. file_watches has a row per files trigger that watched
-- its folder (folder: the path and pattern its backlog was taken for) or
-- could not (problem: why, shown on the pipeline's page). file_arrivals
-- remembers, per file, the size and mtime that were handled: a run was
-- started for them, or they were there when the trigger first watched.
-- The exactly-once of an arrival is its trigger event, inserted with the
-- run; this row is what keeps a file that stays in the folder from running
-- again once retention pruned its run and event, so run_id has no foreign
-- key. The watcher deletes the row when the file leaves the folder.
CREATE TABLE file_watches (
    pipeline_id TEXT NOT NULL REFERENCES pipelines (id) ON DELETE CASCADE,
    source      TEXT NOT NULL,
    folder      TEXT NOT NULL DEFAULT '',
    started_at  INTEGER,
    problem     TEXT NOT NULL DEFAULT '',
    problem_at  INTEGER,
    PRIMARY KEY (pipeline_id, source)
);
CREATE TABLE file_arrivals (
    pipeline_id TEXT NOT NULL REFERENCES pipelines (id) ON DELETE CASCADE,
    source      TEXT NOT NULL,
    path        TEXT NOT NULL,
    size        INTEGER NOT NULL,
    mtime_ns    INTEGER NOT NULL,
    run_id      INTEGER,
    seen_at     INTEGER NOT NULL,
    PRIMARY KEY (pipeline_id, source, path)
);

-- +goose Down
DROP TABLE file_arrivals;
DROP TABLE file_watches;
