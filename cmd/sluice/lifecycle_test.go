package main_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/api"
)

// The Airflow failures users write about most, each reproduced against
// the real binary: a fixed file that is not picked up, a broken edit that
// takes a pipeline away, a file changed under a running run, a deleted
// pipeline that comes back, a task whose interpreter is missing, and a
// task stuck in queued.

// pipelineInfo returns a pipeline as the API shows it.
func (s *cliServer) pipelineInfo(t *testing.T, id string) api.Pipeline {
	t.Helper()
	var p api.Pipeline
	s.cli(t, "pipelines", "show", id, "--json").want(t, 0).decode(t, &p)
	return p
}

// waitPipeline polls the API until cond holds for the pipeline, and
// returns when it first did.
func (s *cliServer) waitPipeline(t *testing.T, id, what string, cond func(api.Pipeline) bool) (api.Pipeline, time.Time) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		p := s.pipelineInfo(t, id)
		if cond(p) {
			return p, time.Now()
		}
		if time.Now().After(deadline) {
			t.Fatalf("pipeline %s never %s: %+v\nserver log:\n%s", id, what, p, s.logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestLiveReload edits a pipeline file under a running server and sees the
// new version live through the API. The folder rescan is set to an hour,
// so the file system event alone must carry the change.
func TestLiveReload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pipes := filepath.Join(dir, "pipelines")
	if err := os.Mkdir(pipes, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, pipes, "orders.yaml", "id: orders\ntasks:\n  extract:\n    run: echo v1\n")
	srv := startServer(t, dir, []string{"SLUICE_ADMIN_PASSWORD=admin-password"}, "--home", ".sluice", "--pipelines", pipes, "--rescan", "1h")
	waitFile(t, filepath.Join(dir, ".sluice", "cli-token"), 30*time.Second, srv.logs)
	s := &cliServer{server: srv, dir: dir, pipes: pipes, env: []string{"SLUICE_SERVER=" + srv.url, "SLUICE_TOKEN=", "SLUICE_HOME="}}
	v1, _ := s.waitPipeline(t, "orders", "loaded", func(p api.Pipeline) bool { return p.Version != "" })

	for i := 2; i <= 4; i++ {
		saved := time.Now()
		writeFile(t, pipes, "orders.yaml", fmt.Sprintf("id: orders\ntasks:\n  extract:\n    run: echo v%d\n", i))
		// With the rescan an hour away, only the file system event can
		// have brought the edit. How fast is logged, not asserted: this
		// machine is shared (the time includes CLI launches polling).
		p, live := s.waitPipeline(t, "orders", "took the edit", func(p api.Pipeline) bool { return p.Version != v1.Version })
		t.Logf("edit %d live after %v", i, live.Sub(saved).Round(time.Millisecond))
		v1 = p
	}
	var versions []api.Version
	s.cli(t, "pipelines", "versions", "orders", "--json").want(t, 0).decode(t, &versions)
	if len(versions) != 4 || !versions[0].Live || versions[0].Hash != v1.Version {
		t.Fatalf("versions after three edits: %+v", versions)
	}
	// Any two versions diff.
	s.cli(t, "pipelines", "diff", "orders", versions[3].Hash[:12], versions[0].Hash[:12]).want(t, 0, "-    run: echo v1", "+    run: echo v4")
}

// TestBrokenEditKeepsPipeline saves a broken edit: the last good version
// stays live and scheduled, and the error is reported with its position
// by the API, the CLI and the metrics until the file is fixed.
func TestBrokenEditKeepsPipeline(t *testing.T) {
	t.Parallel()
	good := "id: ticker\nschedule: \"@every 1s\"\ntasks:\n  tick:\n    run: echo tick\n"
	s := startCLIServer(t, map[string]string{"ticker.yaml": good})
	v1, _ := s.waitPipeline(t, "ticker", "loaded", func(p api.Pipeline) bool { return p.Version != "" })
	writeFile(t, s.pipes, "ticker.yaml", "id: ticker\nschedule: \"@every 1s\"\ntasks:\n  tick:\n    run: echo tick\n    retires: 3\n")
	p, _ := s.waitPipeline(t, "ticker", "reported the error", func(p api.Pipeline) bool { return p.ParseError != nil })
	if p.Version != v1.Version || !strings.Contains(*p.ParseError, "ticker.yaml:6:5") || !strings.Contains(*p.ParseError, `"retries"`) {
		t.Fatalf("after a broken edit: version %s (want %s), error %q", p.Version, v1.Version, *p.ParseError)
	}
	// Still scheduled on the good version: new runs keep coming.
	var first api.RunList
	s.cli(t, "runs", "list", "--pipeline", "ticker", "--json").want(t, 0).decode(t, &first)
	// Runs come newest first, a page at a time: count those newer than
	// the newest seen before.
	var newest int64
	if len(first.Runs) > 0 {
		newest = first.Runs[0].ID
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var page api.RunList
		s.cli(t, "runs", "list", "--pipeline", "ticker", "--json").want(t, 0).decode(t, &page)
		runs := page.Runs
		fresh := 0
		for _, r := range runs {
			if r.ID > newest {
				fresh++
			}
		}
		if fresh >= 2 {
			if runs[0].VersionID != v1.VersionID {
				t.Fatalf("a run after the broken edit has version %d, want the good %d", runs[0].VersionID, v1.VersionID)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no new runs after the broken edit: newest was %d, now %d new\n%s", newest, fresh, s.logs())
		}
		time.Sleep(200 * time.Millisecond)
	}
	if _, body := s.get("/metrics"); metricValue(body, "sluice_pipelines_with_parse_errors") != 1 {
		t.Errorf("sluice_pipelines_with_parse_errors = %v, want 1", metricValue(body, "sluice_pipelines_with_parse_errors"))
	}
	s.cli(t, "pipelines", "status").want(t, 1, "ticker.yaml:6:5")
	// Fixed: the error goes.
	writeFile(t, s.pipes, "ticker.yaml", good)
	s.waitPipeline(t, "ticker", "cleared the error", func(p api.Pipeline) bool { return p.ParseError == nil })
	s.cli(t, "pipelines", "status").want(t, 0, "ticker")
}

// TestRunKeepsItsVersion changes a file while a run of it runs: the run
// finishes on the version it started with, and clearing a task of the old
// run later runs that version again.
func TestRunKeepsItsVersion(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	gate, out := filepath.Join(dir, "gate"), filepath.Join(dir, "out")
	src := func(v string) string {
		return fmt.Sprintf(`id: etl
tasks:
  wait:
    run: while [ ! -e %s ]; do sleep 0.05; done
  load:
    depends_on: [wait]
    run: echo %s >> %s
`, gate, v, out)
	}
	s := startCLIServer(t, map[string]string{"etl.yaml": src("v1")})
	v1, _ := s.waitPipeline(t, "etl", "loaded", func(p api.Pipeline) bool { return p.Version != "" })
	id := runID(t, s.cli(t, "pipelines", "trigger", "etl").want(t, 0))
	s.eventually(t, "running", "runs", "show", fmt.Sprint(id))

	// A new version while the run waits: load writes v2 and a task is added.
	writeFile(t, s.pipes, "etl.yaml", src("v2")+"  extra:\n    run: echo extra\n")
	s.waitPipeline(t, "etl", "took the edit", func(p api.Pipeline) bool { return p.Version != v1.Version })
	writeFile(t, dir, "gate", "")
	s.eventually(t, "success", "runs", "show", fmt.Sprint(id))
	var run api.RunDetail
	s.cli(t, "runs", "show", fmt.Sprint(id), "--json").want(t, 0).decode(t, &run)
	if run.VersionID != v1.VersionID || len(run.Tasks) != 2 {
		t.Fatalf("run after the edit: version %d (want %d), %d tasks (want 2)", run.VersionID, v1.VersionID, len(run.Tasks))
	}
	if data, _ := os.ReadFile(out); string(data) != "v1\n" {
		t.Fatalf("the run ran %q, want its own version's v1", data)
	}
	// Clearing load in the old run runs the old version again.
	s.cli(t, "runs", "clear", fmt.Sprint(id), "load").want(t, 0)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if data, _ := os.ReadFile(out); string(data) == "v1\nv1\n" {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("after clearing load, out = %q, want v1 twice\n%s", data, s.logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestDeleteNeverComesBack deletes pipelines: refused while the file
// exists, done with --and-file, and a pipeline whose file was removed is
// marked missing, then deletes. Neither comes back on later scans.
func TestDeleteNeverComesBack(t *testing.T) {
	t.Parallel()
	s := startCLIServer(t, map[string]string{
		"kept.yaml": "id: kept\ntasks:\n  a:\n    run: echo a\n",
		"gone.yaml": "id: gone\ntasks:\n  a:\n    run: echo a\n",
	})
	s.waitPipeline(t, "kept", "loaded", func(p api.Pipeline) bool { return p.Version != "" })
	s.waitPipeline(t, "gone", "loaded", func(p api.Pipeline) bool { return p.Version != "" })
	id := runID(t, s.cli(t, "pipelines", "trigger", "kept", "--wait").want(t, 0))

	s.cli(t, "pipelines", "delete", "kept", "--yes").want(t, 1, "kept.yaml", "still exists", "--and-file")
	s.cli(t, "pipelines", "delete", "kept", "--yes", "--and-file").want(t, 0, "deleted pipeline kept")
	if _, err := os.Stat(filepath.Join(s.pipes, "kept.yaml")); !os.IsNotExist(err) {
		t.Fatalf("kept.yaml after delete --and-file: %v", err)
	}
	s.cli(t, "runs", "show", fmt.Sprint(id)).want(t, 1, "not found")

	// A file removed by hand: the pipeline is missing, keeps its history,
	// and then deletes without --and-file.
	if err := os.Remove(filepath.Join(s.pipes, "gone.yaml")); err != nil {
		t.Fatal(err)
	}
	s.waitPipeline(t, "gone", "marked missing", func(p api.Pipeline) bool { return p.Missing })
	s.cli(t, "pipelines", "delete", "gone", "--yes").want(t, 0, "deleted pipeline gone")

	// Several rescans later (2 s each), neither came back.
	time.Sleep(5 * time.Second)
	r := s.cli(t, "pipelines", "list").want(t, 0)
	if strings.Contains(r.stdout, "kept") || strings.Contains(r.stdout, "gone") {
		t.Fatalf("a deleted pipeline came back:\n%s", r.stdout)
	}
}

// TestDoctorMissingInterpreter runs doctor on a pipeline whose task names
// an interpreter that does not exist, as a virtualenv that was never
// created, and on one whose program is not on PATH.
func TestDoctorMissingInterpreter(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "ml.yaml", `id: ml
tasks:
  train:
    interpreter: /opt/venvs/ml/bin/python
    run: print("training")
  score:
    command: [no-such-scorer, --fast]
  fine:
    run: echo fine
`)
	r := sluiceCmd(t, dir, nil, "doctor", "ml.yaml")
	if r.code != 1 {
		t.Fatalf("doctor exited %d on a missing interpreter, want 1:\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"/opt/venvs/ml/bin/python does not exist", "no-such-scorer is not on the PATH", "2 problem(s)"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("doctor output lacks %q:\n%s%s", want, r.stdout, r.stderr)
		}
	}
	// Only the problems by default; every check with --all.
	if strings.Contains(r.stdout, "fine") {
		t.Errorf("doctor without --all shows a task with no problem:\n%s", r.stdout)
	}
	r = sluiceCmd(t, dir, nil, "doctor", "--all", "ml.yaml")
	if !regexp.MustCompile(`(?m)^ml\s+fine\s+\S+\s+ok\b`).MatchString(r.stdout) {
		t.Errorf("doctor --all does not show the task with no problem as ok:\n%s", r.stdout)
	}
	// A file with no problem: one success line, no empty table.
	writeFile(t, dir, "fine.yaml", "id: fine\ntasks:\n  a:\n    run: echo fine\n")
	r = sluiceCmd(t, dir, nil, "doctor", "fine.yaml")
	if r.code != 0 || strings.TrimSpace(r.stdout) != "ok: 1 pipeline(s), 1 check(s), no problem" {
		t.Errorf("doctor on a file with no problem exited %d and printed %q, want only the success line", r.code, r.stdout)
	}
}

// TestNothingStuckInQueued runs a task that requires a label no worker
// has: it shows as blocked with the reason, then fails with it after its
// queued_timeout instead of waiting forever.
func TestNothingStuckInQueued(t *testing.T) {
	t.Parallel()
	s := startCLIServer(t, map[string]string{
		"gpu.yaml": "id: gpu\ntasks:\n  train:\n    requires: [gpu]\n    queued_timeout: 20s\n    run: echo trained\n",
	})
	s.waitPipeline(t, "gpu", "loaded", func(p api.Pipeline) bool { return p.Version != "" })
	id := runID(t, s.cli(t, "pipelines", "trigger", "gpu").want(t, 0))
	blocked := s.eventually(t, "blocked", "runs", "show", fmt.Sprint(id))
	if !strings.Contains(blocked.stdout, "no live worker has the label(s) gpu") {
		t.Fatalf("blocked without the reason:\n%s", blocked.stdout)
	}
	if _, body := s.get("/metrics"); metricValue(body, "sluice_task_instances_blocked") != 1 {
		t.Errorf("sluice_task_instances_blocked = %v, want 1", metricValue(body, "sluice_task_instances_blocked"))
	}
	failed := s.eventually(t, "failed", "runs", "show", fmt.Sprint(id))
	if !strings.Contains(failed.stdout, "no live worker has the label(s) gpu") {
		t.Fatalf("failed without the reason:\n%s", failed.stdout)
	}
}
