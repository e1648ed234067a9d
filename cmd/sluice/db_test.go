package main_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/api"
)

// TestDBCleanup prunes by hand what retention would prune later: a dry run
// counts and keeps, a cleanup deletes finished runs only, with their logs,
// and a run still going stays.
func TestDBCleanup(t *testing.T) {
	t.Parallel()
	s := startCLIServer(t, map[string]string{
		"quick.yaml": "id: quick\ntasks:\n  a:\n    run: echo one line of log\n  b:\n    depends_on: [a]\n    run: echo another\n",
		"slow.yaml":  "id: slow\ntasks:\n  wait:\n    run: sleep 60\n",
	})
	s.waitPipeline(t, "quick", "loaded", func(p api.Pipeline) bool { return p.Version != "" })
	s.waitPipeline(t, "slow", "loaded", func(p api.Pipeline) bool { return p.Version != "" })
	var done []int64
	for range 3 {
		id := runID(t, s.cli(t, "pipelines", "trigger", "quick", "--wait").want(t, 0))
		done = append(done, id)
	}
	slow := runID(t, s.cli(t, "pipelines", "trigger", "slow").want(t, 0))
	s.eventually(t, "running", "runs", "show", fmt.Sprint(slow))
	time.Sleep(1100 * time.Millisecond) // the runs are then over a second old

	// Nothing is a day old: the default keeps everything.
	s.cli(t, "db", "cleanup", "--dry-run").want(t, 0, "No finished run is past its retention (default 30d)")

	var preview api.Cleanup
	s.cli(t, "db", "cleanup", "--dry-run", "--retention", "1s", "--json").want(t, 0).decode(t, &preview)
	if !preview.DryRun || preview.Rows["runs"] != 3 || preview.Rows["instances"] != 6 || preview.Rows["log_chunks"] == 0 || preview.LogBytes == 0 {
		t.Fatalf("dry run: %+v", preview)
	}
	if len(preview.Pipelines) != 1 || preview.Pipelines[0].ID != "quick" || preview.Pipelines[0].Runs != 3 {
		t.Fatalf("dry run by pipeline: %+v", preview.Pipelines)
	}
	s.cli(t, "db", "cleanup", "--dry-run", "--retention", "1s").want(t, 0, "quick", "3 runs, ", "would go")
	s.cli(t, "runs", "show", fmt.Sprint(done[0])).want(t, 0, "success")

	// Without a terminal to ask on, it needs --yes; a bad retention and an
	// unknown pipeline are refused with what is wrong.
	s.cli(t, "db", "cleanup", "--retention", "1s").want(t, 2, "--yes")
	s.cli(t, "db", "cleanup", "--retention", "soon").want(t, 2, "soon")
	s.cli(t, "db", "cleanup", "--pipeline", "nope", "--dry-run").want(t, 1, "nope")
	s.cli(t, "runs", "show", fmt.Sprint(done[0])).want(t, 0, "success")

	s.cli(t, "db", "cleanup", "--retention", "1s", "--yes").want(t, 0, "3 runs, ", "deleted")
	for _, id := range done {
		s.cli(t, "runs", "show", fmt.Sprint(id)).want(t, 1, "not found")
	}
	s.cli(t, "runs", "show", fmt.Sprint(slow)).want(t, 0, "running")
	r := s.cli(t, "db", "cleanup", "--dry-run", "--retention", "1s").want(t, 0)
	if !strings.Contains(r.stdout, "No finished run") {
		t.Fatalf("after the cleanup, a dry run still finds:\n%s", r.stdout)
	}
	// The pipelines themselves stay, and run again.
	s.cli(t, "pipelines", "trigger", "quick", "--wait").want(t, 0)
}
