package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/store"
	"github.com/sluice-dev/sluice/store/sqlite"
)

// TestPipelineSearchUsesIndexes checks with EXPLAIN QUERY PLAN that the
// pipelines list's query finds tags through pipeline_tags' key and each
// pipeline's last run through runs_pipeline_id, never by scanning runs.
func TestPipelineSearchUsesIndexes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, t.TempDir(), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	plan, err := s.ExplainPipelineSearch(ctx, &store.PipelineSearchParams{
		Tags: []string{"finance"}, LastStates: []sluice.RunState{sluice.RunFailed}, Search: "orders",
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"SEARCH pipeline_tags USING COVERING INDEX", "SEARCH r USING INDEX runs_pipeline_id (pipeline_id=?)"} {
		if !strings.Contains(plan, want) {
			t.Errorf("the plan lacks %q:\n%s", want, plan)
		}
	}
	recent, err := s.ExplainRecentRuns(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(recent, "USING INDEX runs_pipeline_id (pipeline_id=?)") {
		t.Errorf("recent runs do not use runs_pipeline_id:\n%s", recent)
	}
	plan += recent
	for _, line := range strings.Split(plan, "\n") {
		// r is runs in the last run's subquery; "SCAN recent" reads the
		// rows a LIMIT gave.
		if strings.TrimSpace(line) == "SCAN r" || strings.Contains(line, "SCAN runs") || strings.Contains(line, "SCAN pipeline_tags") {
			t.Errorf("the plan scans a table: %q\n%s", line, plan)
		}
	}
}

// TestHotPathKeepsItsIndexes checks with EXPLAIN QUERY PLAN that the
// claim's choice of instances stays on task_instances_claimable (an index
// on every instance's state once drew the planner away from it and
// doubled a task hop), that the claim's read of upstream outputs looks
// edges up by their downstream task, and that Browse's "what failed" reads the partial
// index task_instances_failed instead of scanning task instances.
func TestHotPathKeepsItsIndexes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, t.TempDir(), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	claim, err := s.ExplainClaimPick(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(claim, "task_instances_claimable") {
		t.Errorf("the claim does not use task_instances_claimable:\n%s", claim)
	}
	outs, err := s.ExplainClaimRuns(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(outs, "version_edges_downstream") {
		t.Errorf("the claim's upstream outputs do not use version_edges_downstream:\n%s", outs)
	}
	for _, line := range strings.Split(outs, "\n") {
		if strings.Contains(line, "SCAN") {
			t.Errorf("the claim's upstream outputs scan a table: %q\n%s", line, outs)
		}
	}
	failed, err := s.ExplainInstanceBrowse(ctx, &store.InstanceBrowseParams{States: []sluice.InstanceState{sluice.InstanceFailed}, Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(failed, "task_instances_failed") {
		t.Errorf("browsing failed task instances does not use task_instances_failed:\n%s", failed)
	}
}

// TestStateChangesBuildNoTemporaryTables checks that changing the state of
// a task instance, as every task hop does three times, builds no temporary
// table to keep the table's indexes up to date: SQLite builds one per
// statement for each IN list of three or more constants in a partial
// index's predicate (~3 µs each; see migration 00021).
func TestStateChangesBuildNoTemporaryTables(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	s, err := sqlite.Open(ctx, dir, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, sqlite.FileName)+"?_pragma=query_only(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, state := range []string{"queued", "running", "success"} {
		rows, err := db.QueryContext(ctx, `EXPLAIN UPDATE task_instances SET state = '`+state+`' WHERE id = 1`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var (
				addr          int
				opcode        string
				p1, p2, p3    sql.NullInt64
				p4, p5, notes sql.NullString
			)
			if err := rows.Scan(&addr, &opcode, &p1, &p2, &p3, &p4, &p5, &notes); err != nil {
				t.Fatal(err)
			}
			if opcode == "OpenEphemeral" {
				t.Errorf("a change of state to %s builds a temporary table (instruction %d): an IN list of three or more constants in a partial index of task_instances?", state, addr)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
}
