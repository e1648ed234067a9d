-- +goose Up
-- A claim carries the outputs of its instance's upstream tasks, found from
-- the instance's task through the version's edges: without this index each
-- claim would read every edge of the version (a chain of N tasks, N² edge
-- reads). It holds upstream too, so the lookup reads the index alone.
CREATE INDEX IF NOT EXISTS version_edges_downstream ON version_edges (version_id, downstream, upstream);

-- +goose Down
DROP INDEX version_edges_downstream;
