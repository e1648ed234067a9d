package main_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/control"
	"github.com/sluice-dev/sluice/internal/pgtest"
	"github.com/sluice-dev/sluice/store"
)

// versionVar is the variable the build stamps with the release version
// (-ldflags -X), as the Dockerfile does. The linker ignores -X for a
// variable the code does not declare, so the test checks the stamp only
// when the binary reports it.
const versionVar = "github.com/sluice-dev/sluice.version"

// buildGeneration builds the sluice binary stamped with version into dir.
func buildGeneration(dir, version string) (string, error) {
	bin := filepath.Join(dir, "sluice-"+version)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// -s -w: no symbol table and DWARF, which halves the link.
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "-ldflags", "-s -w -X "+versionVar+"="+version, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the %s generation: %v\n%s", version, err, out)
	}
	return bin, nil
}

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, logs func() string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v\n%s", what, d, logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestRollingUpgrade rolls a PostgreSQL deployment from one generation of
// the binary to the next the way a Kubernetes Deployment with maxSurge 1
// and maxUnavailable 0 does, while runs are triggered about once a second:
// for each old scheduler and then each old worker, start a new one, wait
// until it is ready, then SIGTERM the old one and wait for it to exit.
// Workers drain: tasks shorter than the drain timeout finish on the old
// worker, longer ones are handed back and run on a new one.
//
// What must hold: every run succeeds, none is lost, no attempt fails or is
// lost (handed back is not a failure), and every task instance succeeds
// exactly once, both in the store and by the marks the tasks leave. Both
// generations come from this tree; what differs between releases on the
// same database is the schema, whose migrations are additive and applied
// once under the migration lock (store/postgres), so an older binary keeps
// working against a newer schema during the roll.
func TestRollingUpgrade(t *testing.T) {
	t.Parallel()
	url := pgtest.Schema(t)
	bins := t.TempDir()
	var oldBin, newBin string
	var oldErr, newErr error
	var wg sync.WaitGroup
	wg.Go(func() { oldBin, oldErr = buildGeneration(bins, "upgrade-old") })
	wg.Go(func() { newBin, newErr = buildGeneration(bins, "upgrade-new") })
	wg.Wait()
	if oldErr != nil || newErr != nil {
		t.Fatal(oldErr, newErr)
	}

	// Runs are triggered through the whole roll, so every process, old or
	// new, stops with work in flight. Each task marks its start and its
	// end, so a task that ran to the end twice would show. slow outlasts
	// the drain timeout: on an old worker at SIGTERM it is handed back;
	// the others finish within the drain.
	dir := t.TempDir()
	pipes := filepath.Join(dir, "pipelines")
	if err := os.Mkdir(pipes, 0o755); err != nil {
		t.Fatal(err)
	}
	marks := filepath.Join(dir, "marks.txt")
	var b strings.Builder
	b.WriteString("id: roll\nmax_active_runs: 100\ntasks:\n")
	mark := `echo "$SLUICE_RUN_ID/$SLUICE_TASK/$SLUICE_ATTEMPT %s" >> ` + marks
	for _, task := range []struct {
		id, deps string
		secs     int
	}{{"extract", "", 1}, {"transform", "[extract]", 2}, {"slow", "[extract]", 5}, {"load", "[transform, slow]", 1}} {
		fmt.Fprintf(&b, "  %s:\n    run: %s; sleep %d; %s\n", task.id, fmt.Sprintf(mark, "start"), task.secs, fmt.Sprintf(mark, "done"))
		if task.deps != "" {
			fmt.Fprintf(&b, "    depends_on: %s\n", task.deps)
		}
	}
	writeFile(t, pipes, "roll.yaml", b.String())

	common := []string{"--db", url, "--listen", "127.0.0.1:0", "--db-max-conns", "4", "--poll", "500ms"}
	schedulerArgs := append(append([]string{}, common...), "--pipelines", pipes)
	workerArgs := func(id string) []string {
		// A short lease: an attempt left behind by a botched hand-back
		// would be reaped as lost, and fail the test, within its time.
		return append(append([]string{}, common...), "--worker-id", id, "--concurrency", "4",
			"--lease", "10s", "--drain-timeout", "3s", "--kill-grace", "2s")
	}
	var all []*proc
	logs := func() string {
		var sb strings.Builder
		for _, p := range all {
			l := p.logs()
			if len(l) > 3000 {
				l = "…" + l[len(l)-3000:]
			}
			fmt.Fprintf(&sb, "--- %s %s (pid %d)\n%s", p.role, p.cmd.Path, p.cmd.Process.Pid, l)
		}
		return sb.String()
	}
	launch := func(bin, role string, args ...string) *proc {
		p := startBinary(t, bin, dir, role, args...)
		all = append(all, p)
		return p
	}
	ready := func(p *proc) {
		t.Helper()
		u := p.waitURL(t)
		waitFor(t, 30*time.Second, p.role+" ready", logs, func() bool {
			code, _ := httpGet(t, u+"/readyz")
			return code == 200
		})
	}
	stop := func(p *proc) {
		t.Helper()
		if code := p.term(t); code != 0 {
			t.Fatalf("%s exited %d on SIGTERM\n%s", p.role, code, logs())
		}
	}
	admin, schema := pgtest.Require(t), pgtest.SchemaOf(url)
	running := func(worker string) int {
		var n int
		_ = admin.QueryRow(`SELECT count(*) FROM `+schema+`.attempts WHERE state = 'running' AND worker = $1`, worker).Scan(&n)
		return n
	}
	st := openPG(t, url)
	ctx := context.Background()
	listed := func(ids ...string) bool {
		ws, err := st.WorkerList(ctx)
		if err != nil {
			return false
		}
		seen := map[string]bool{}
		for _, w := range ws {
			seen[w.ID] = true
		}
		for _, id := range ids {
			if !seen[id] {
				return false
			}
		}
		return true
	}

	// The old generation: two schedulers, two workers, busy.
	oldSch := []*proc{launch(oldBin, "scheduler", schedulerArgs...), launch(oldBin, "scheduler", schedulerArgs...)}
	oldW := []*proc{launch(oldBin, "worker", workerArgs("old-w1")...), launch(oldBin, "worker", workerArgs("old-w2")...)}
	for _, p := range append(append([]*proc{}, oldSch...), oldW...) {
		ready(p)
	}
	waitFor(t, 30*time.Second, "the pipeline loaded", logs, func() bool {
		p, err := st.PipelineGet(ctx, "roll")
		return err == nil && p.VersionID != 0
	})
	// About a run a second, near what the old workers' 8 slots sustain (a
	// run is 9 task-seconds), the way the API triggers them.
	ctl := control.New(st, nil, slog.New(slog.DiscardHandler))
	var triggered []int64
	var triggerErr error
	stopFeed, fed := make(chan struct{}), make(chan struct{})
	var stopOnce sync.Once
	endFeed := func() { stopOnce.Do(func() { close(stopFeed) }); <-fed }
	t.Cleanup(endFeed) // before the store closes, should the test stop early
	go func() {
		defer close(fed)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			r, err := ctl.Trigger(ctx, "roll", nil, "upgrade test")
			if err != nil {
				triggerErr = err
				return
			}
			triggered = append(triggered, r.ID)
			select {
			case <-stopFeed:
				return
			case <-tick.C:
			}
		}
	}()
	waitFor(t, 60*time.Second, "both old workers running tasks", logs, func() bool {
		return running("old-w1") > 0 && running("old-w2") > 0
	})

	// The roll, one process at a time: a new one up and ready, then the
	// old one stopped.
	for _, old := range oldSch {
		ready(launch(newBin, "scheduler", schedulerArgs...))
		stop(old)
	}
	signalled := map[string]time.Time{}
	for i, old := range oldW {
		oldID, newID := fmt.Sprintf("old-w%d", i+1), fmt.Sprintf("new-w%d", i+1)
		ready(launch(newBin, "worker", workerArgs(newID)...))
		// Old and new side by side on one database, as `sluice workers
		// list` shows during a roll.
		waitFor(t, 30*time.Second, oldID+" and "+newID+" listed together", logs, func() bool { return listed(oldID, newID) })
		waitFor(t, 60*time.Second, oldID+" running a task when it is stopped", logs, func() bool { return running(oldID) > 0 })
		signalled[oldID] = time.Now()
		stop(old)
		if n := running(oldID); n != 0 {
			t.Fatalf("%s exited leaving %d attempts running: its leases were not handed back\n%s", oldID, n, logs())
		}
	}

	endFeed()
	if triggerErr != nil {
		t.Fatalf("triggering a run during the roll: %v\n%s", triggerErr, logs())
	}
	got := waitRuns(t, st, "roll", len(triggered), 2*time.Minute, logs)
	ids := map[int64]bool{}
	for _, r := range got {
		ids[r.ID] = true
	}
	for _, id := range triggered {
		if !ids[id] {
			t.Errorf("run %d was triggered and is gone", id)
		}
	}
	checkRoll(t, st, got, len(triggered), marks, signalled, logs)

	// Stopped workers deregister; the new generation is what is listed.
	ws, err := st.WorkerList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	versions := map[string]string{}
	for _, w := range ws {
		versions[w.ID] = w.Version
		if strings.HasPrefix(w.ID, "old-") {
			t.Errorf("stopped worker %s is still listed", w.ID)
		}
	}
	if !listed("new-w1", "new-w2") {
		t.Errorf("the new workers are not listed: %v", versions)
	}
	// The stamp, where the binary honours it (see versionVar).
	if r := sluiceCmdWith(t, newBin, "version"); strings.Contains(r, "upgrade-new") {
		for _, id := range []string{"new-w1", "new-w2"} {
			if versions[id] != "upgrade-new" {
				t.Errorf("worker %s reports version %q, want upgrade-new", id, versions[id])
			}
		}
	} else {
		t.Logf("the binary does not honour -X %s (sluice version: %q); generations told apart by worker id only", versionVar, strings.TrimSpace(r))
	}
}

// checkRoll checks what must hold once every run of the roll finished.
func checkRoll(t *testing.T, st store.Store, runs []*store.Run, want int, marks string, signalled map[string]time.Time, logs func() string) {
	t.Helper()
	ctx := context.Background()
	if len(runs) != want {
		t.Errorf("%d runs, want %d: a run was lost or created twice", len(runs), want)
	}
	keys := map[string]bool{}
	type key struct {
		run  int64
		task string
	}
	success := map[key]int{} // the attempt number that succeeded
	handedBack := map[key][]int{}
	states := map[sluice.AttemptState]int{}
	byGen := map[string]int{}
	inFlight, finishedInDrain := 0, 0
	for _, r := range runs {
		if keys[r.Key] {
			t.Errorf("two runs with key %s", r.Key)
		}
		keys[r.Key] = true
		if r.State != sluice.RunSuccess {
			t.Errorf("run %d (%s) ended %s", r.ID, r.Key, r.State)
		}
		ins, err := st.InstanceList(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(ins) != 4 {
			t.Errorf("run %d has %d task instances, want 4", r.ID, len(ins))
		}
		for _, in := range ins {
			if in.State != sluice.InstanceSuccess || in.Failures != 0 {
				t.Errorf("run %d task %s: %s with %d failures", r.ID, in.TaskID, in.State, in.Failures)
			}
		}
		atts, err := st.AttemptListByRun(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range atts {
			k := key{r.ID, a.TaskID}
			states[a.State]++
			switch {
			case a.State == sluice.AttemptSuccess:
				if n, dup := success[k]; dup {
					t.Errorf("run %d task %s succeeded twice (attempts %d and %d)", r.ID, a.TaskID, n, a.Number)
				}
				success[k] = a.Number
				byGen[strings.SplitN(a.Worker, "-", 2)[0]]++
			case a.State == sluice.AttemptHandedBack:
				handedBack[k] = append(handedBack[k], a.Number)
			default:
				t.Errorf("run %d task %s attempt %d on %s ended %s (%s): a roll must not fail or lose work",
					r.ID, a.TaskID, a.Number, a.Worker, a.State, a.Error)
			}
			sig, old := signalled[a.Worker]
			if !old {
				continue
			}
			if a.StartedAt.Before(sig) && (a.FinishedAt == nil || a.FinishedAt.After(sig)) {
				inFlight++
				if a.State == sluice.AttemptSuccess {
					finishedInDrain++
				}
			}
			// A draining worker claims nothing; a second covers a claim
			// that was already on its way when the signal came.
			if a.StartedAt.After(sig.Add(time.Second)) {
				t.Errorf("%s started run %d task %s at %v, after its SIGTERM at %v", a.Worker, r.ID, a.TaskID, a.StartedAt, sig)
			}
		}
	}
	if len(success) != want*4 {
		t.Errorf("%d task instances succeeded, want %d", len(success), want*4)
	}
	// The tasks' own marks: each (run, task) ran to its end exactly once,
	// in the attempt the store recorded as the success; a handed-back
	// attempt started and never finished.
	data, err := os.ReadFile(marks)
	if err != nil {
		t.Fatal(err)
	}
	done := map[key][]int{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var run int64
		var task, what string
		var n int
		f := strings.SplitN(line, "/", 3)
		if len(f) != 3 {
			t.Errorf("mark %q", line)
			continue
		}
		if _, err := fmt.Sscan(f[0], &run); err != nil {
			t.Errorf("mark %q: %v", line, err)
			continue
		}
		task = f[1]
		if _, err := fmt.Sscan(f[2], &n, &what); err != nil {
			t.Errorf("mark %q: %v", line, err)
			continue
		}
		if what == "done" {
			done[key{run, task}] = append(done[key{run, task}], n)
		}
	}
	for k, n := range success {
		if d := done[k]; len(d) != 1 || d[0] != n {
			t.Errorf("run %d task %s: ran to its end in attempts %v, want only attempt %d (the recorded success)", k.run, k.task, d, n)
		}
	}
	if inFlight == 0 {
		t.Errorf("no attempt was running on an old worker when it was stopped: the drain was not exercised")
	}
	if byGen["old"] == 0 || byGen["new"] == 0 {
		t.Errorf("successes by generation %v: want work done by both", byGen)
	}
	if t.Failed() {
		t.Logf("logs:\n%s", logs())
	}
	hb := 0
	for _, ns := range handedBack {
		hb += len(ns)
	}
	t.Logf("roll: %d runs, %d task instances; attempts %v; successes by generation %v; %d attempts in flight on stopped workers (%d finished during the drain, %d handed back)",
		len(runs), len(success), states, byGen, inFlight, finishedInDrain, hb)
}

// sluiceCmdWith runs bin with args and returns its standard output.
func sluiceCmdWith(t *testing.T, bin string, args ...string) string {
	t.Helper()
	out, err := exec.Command(bin, args...).Output()
	if err != nil {
		t.Fatalf("%s %v: %v", bin, args, err)
	}
	return string(out)
}
