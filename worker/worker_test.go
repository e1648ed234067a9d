package worker_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/catalog"
	"github.com/sluice-dev/sluice/pipeline"
	"github.com/sluice-dev/sluice/sluicetest"
	"github.com/sluice-dev/sluice/store"
	"github.com/sluice-dev/sluice/store/sqlite"
	"github.com/sluice-dev/sluice/worker"
)

type testBundle struct {
	t    *testing.T
	ctx  context.Context
	st   store.Store
	dir  string
	home string // the SQLite store's directory
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	home := t.TempDir()
	st, err := sqlite.Open(context.Background(), home, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &testBundle{t: t, ctx: context.Background(), st: st, dir: t.TempDir(), home: home}
}

// trigger saves a pipeline from YAML (its file placed in b.dir) and
// creates a run of it.
func (b *testBundle) trigger(src string) *store.Run {
	b.t.Helper()
	file := filepath.Join(b.dir, "p.yaml")
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		b.t.Fatal(err)
	}
	p, err := pipeline.Parse(file, []byte(src))
	if err != nil {
		b.t.Fatal(err)
	}
	saved, err := b.st.PipelineSave(b.ctx, catalog.SaveParams(p, []byte(src), file))
	if err != nil {
		b.t.Fatal(err)
	}
	given := map[string]any{}
	for k, v := range map[string]any{"region": "eu", "limit": 3} {
		if _, ok := p.Params[k]; ok {
			given[k] = v
		}
	}
	bound, err := p.BindParams(given)
	if err != nil {
		b.t.Fatal(err)
	}
	params, _ := json.Marshal(bound)
	run, _, err := b.st.RunCreate(b.ctx, &store.RunCreateParams{PipelineID: p.ID, VersionID: saved.VersionID,
		Key: "r" + strconv.FormatInt(time.Now().UnixNano(), 10), Kind: store.RunManual, LogicalDate: time.Date(2026, 5, 4, 3, 0, 0, 0, time.UTC),
		Params: params})
	if err != nil {
		b.t.Fatal(err)
	}
	return run
}

// start runs a worker until the test ends.
func (b *testBundle) start(cfg worker.Config) (*worker.Worker, context.CancelFunc, chan struct{}) {
	b.t.Helper()
	cfg.Store = b.st
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Poll == 0 {
		cfg.Poll = 50 * time.Millisecond
	}
	w, err := worker.New(cfg)
	if err != nil {
		b.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = w.Run(ctx); close(done) }()
	b.t.Cleanup(func() {
		cancel()
		w.Kill()
		<-done
	})
	return w, cancel, done
}

// waitRun waits for a run to finish and returns its final state.
func (b *testBundle) waitRun(id int64) sluice.RunState {
	b.t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		wake := b.st.Wait(store.TopicRuns)
		r, err := b.st.RunGet(b.ctx, id)
		if err != nil {
			b.t.Fatal(err)
		}
		if r.State.Finished() {
			return r.State
		}
		select {
		case <-wake:
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			b.t.Fatalf("run %d did not finish; instances: %s", id, b.describeInstances(id))
		}
	}
}

// waitFor polls cond until it holds.
func (b *testBundle) waitFor(what string, cond func() bool) {
	b.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			b.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitStarted waits for a task to create the file "started" (touch
// started) in the pipeline's folder.
func (b *testBundle) waitStarted() {
	b.t.Helper()
	b.waitFor("the task to start", func() bool { _, err := os.Stat(filepath.Join(b.dir, "started")); return err == nil })
}

// waitPid waits for a task to write its pid (echo $$ > name) and returns
// it. The shell creates the file before it writes to it: an empty file
// must not read as pid 0, which kill(2) takes for the test's own group.
func (b *testBundle) waitPid(name string) int {
	b.t.Helper()
	var pid int
	b.waitFor("the task to write its pid", func() bool {
		data, err := os.ReadFile(filepath.Join(b.dir, name))
		if err != nil || !bytes.HasSuffix(data, []byte("\n")) {
			return false
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(data)))
		return err == nil && pid > 0
	})
	return pid
}

// describeInstances says where each instance of a run is, for a test that
// waited in vain.
func (b *testBundle) describeInstances(runID int64) string {
	var parts []string
	for id, in := range b.instances(runID) {
		part := fmt.Sprintf("%s: %s after %d attempts", id, in.State, in.Attempts)
		if in.Blocked != "" {
			part += " (blocked: " + in.Blocked + ")"
		}
		parts = append(parts, part)
	}
	sort.Strings(parts)
	all, _ := b.st.RunList(b.ctx, &store.RunListParams{})
	for _, r := range all {
		parts = append(parts, fmt.Sprintf("run %d of %s: %s", r.ID, r.PipelineID, r.State))
	}
	return strings.Join(parts, "; ")
}

func (b *testBundle) instances(runID int64) map[string]*store.Instance {
	b.t.Helper()
	ins, err := b.st.InstanceList(b.ctx, runID)
	if err != nil {
		b.t.Fatal(err)
	}
	m := map[string]*store.Instance{}
	for _, in := range ins {
		m[in.TaskID] = in
	}
	return m
}

func (b *testBundle) attempts(runID int64, task string) []*store.Attempt {
	b.t.Helper()
	atts, err := b.st.AttemptList(b.ctx, b.instances(runID)[task].ID)
	if err != nil {
		b.t.Fatal(err)
	}
	return atts
}

func (b *testBundle) log(runID int64, task string) string {
	b.t.Helper()
	var sb strings.Builder
	for _, a := range b.attempts(runID, task) {
		chunks, err := b.st.LogList(b.ctx, a.ID, 0)
		if err != nil {
			b.t.Fatal(err)
		}
		for _, c := range chunks {
			sb.Write(c.Data)
		}
	}
	return sb.String()
}

func TestContextOutputsAndLogs(t *testing.T) {
	t.Parallel()
	b := setup(t)
	run := b.trigger(`id: ctx
params:
  region: {type: string, default: eu}
  limit: {type: int, default: 1}
tasks:
  extract:
    env: {GREETING: hi}
    run: |
      echo "pipeline=$SLUICE_PIPELINE run=$SLUICE_RUN_ID task=$SLUICE_TASK attempt=$SLUICE_ATTEMPT"
      echo "date=$SLUICE_LOGICAL_DATE ds=$SLUICE_DS region=$SLUICE_PARAM_REGION limit=$SLUICE_PARAM_LIMIT greeting=$GREETING"
      echo "to stderr" >&2
      pwd
      echo "path=/data/orders.csv" >> "$SLUICE_OUTPUT"
      printf 'notes<<END\nline 1\nline 2\nEND\n' >> "$SLUICE_OUTPUT"
  load:
    depends_on: [extract]
    command: [sh, -c, 'echo "got $SLUICE_OUTPUT_EXTRACT_PATH"; test "$SLUICE_OUTPUT_EXTRACT_NOTES" = "$(printf "line 1\nline 2")"']
`)
	b.start(worker.Config{})
	if s := b.waitRun(run.ID); s != sluice.RunSuccess {
		t.Fatalf("run %s: extract log %q, load log %q, attempts %+v", s, b.log(run.ID, "extract"), b.log(run.ID, "load"), b.attempts(run.ID, "load")[0])
	}
	log := b.log(run.ID, "extract")
	for _, want := range []string{
		fmt.Sprintf(" o pipeline=ctx run=%d task=extract attempt=1\n", run.ID),
		" o date=2026-05-04T03:00:00Z ds=2026-05-04 region=eu limit=3 greeting=hi\n",
		" e to stderr\n",
		" o " + b.dir + "\n", // the pipeline file's folder is the default workdir
	} {
		if !strings.Contains(log, want) {
			t.Errorf("extract log lacks %q:\n%s", want, log)
		}
	}
	if got := b.log(run.ID, "load"); !strings.Contains(got, " o got /data/orders.csv\n") {
		t.Errorf("load log = %q", got)
	}
	outs, _ := b.st.OutputList(b.ctx, run.ID, []string{"extract"})
	if outs["extract"]["path"] != "/data/orders.csv" || outs["extract"]["notes"] != "line 1\nline 2" {
		t.Errorf("outputs = %q", outs)
	}
}

func TestRetryThenSuccess(t *testing.T) {
	t.Parallel()
	b := setup(t)
	run := b.trigger(`id: flaky
tasks:
  flaky:
    retries: 2
    retry_delay: 1s
    run: |
      n=$(cat count 2>/dev/null || echo 0); n=$((n+1)); echo $n > count
      echo "try $n"
      test $n -ge 2
`)
	b.start(worker.Config{})
	if s := b.waitRun(run.ID); s != sluice.RunSuccess {
		t.Fatalf("run %s", s)
	}
	atts := b.attempts(run.ID, "flaky")
	if len(atts) != 2 || atts[0].State != sluice.AttemptFailed || atts[0].Error != "exited with code 1" || atts[1].State != sluice.AttemptSuccess {
		t.Fatalf("attempts: %+v, %+v", atts[0], atts[len(atts)-1])
	}
	if gap := atts[1].StartedAt.Sub(*atts[0].FinishedAt); gap < time.Second {
		t.Fatalf("retried after %v, before the 1s retry delay", gap)
	}
}

func TestTimeoutFailsAttempt(t *testing.T) {
	t.Parallel()
	b := setup(t)
	run := b.trigger(`id: slow
tasks:
  slow:
    timeout: 300ms
    run: sleep 30
  after:
    depends_on: [slow]
    noop: true
`)
	b.start(worker.Config{KillGrace: time.Second})
	if s := b.waitRun(run.ID); s != sluice.RunFailed {
		t.Fatalf("run %s", s)
	}
	atts := b.attempts(run.ID, "slow")
	if len(atts) != 1 || atts[0].State != sluice.AttemptTimedOut || !strings.Contains(atts[0].Error, "timed out after 300ms") {
		t.Fatalf("attempt: %+v", atts[0])
	}
	if in := b.instances(run.ID)["after"]; in.State != sluice.InstanceUpstreamFailed {
		t.Fatalf("after = %s", in.State)
	}
}

func TestLostLeaseKillsTask(t *testing.T) {
	t.Parallel()
	b := setup(t)
	run := b.trigger(`id: long
tasks:
  long:
    retries: 1
    retry_delay: 1h
    run: echo $$ > pid; sleep 60
`)
	b.start(worker.Config{Lease: 300 * time.Millisecond, KillGrace: time.Second})
	pid := b.waitPid("pid")
	// Another scheduler takes the lease over, as if this worker had hung.
	if _, err := b.st.AttemptReap(b.ctx, &store.AttemptReapParams{Reason: "taken over by the test"}); err != nil {
		t.Fatal(err)
	}
	b.waitFor("the task process to be killed", func() bool { return !sluicetest.Alive(pid) })
	atts := b.attempts(run.ID, "long")
	if len(atts) != 1 || atts[0].State != sluice.AttemptLost || atts[0].Error != "taken over by the test" {
		t.Fatalf("the worker wrote after losing its lease: %+v", atts[0])
	}
	if in := b.instances(run.ID)["long"]; in.State != sluice.InstanceUpForRetry {
		t.Fatalf("instance = %s", in.State)
	}
}

func TestDrainHandsBackLongTasks(t *testing.T) {
	t.Parallel()
	b := setup(t)
	run := b.trigger(`id: drain
tasks:
  long:
    run: touch started; sleep 60
`)
	w, stop, done := b.start(worker.Config{DrainTimeout: 200 * time.Millisecond, KillGrace: time.Second})
	b.waitStarted()
	stop()
	<-done
	if n := w.Running(); n != 0 {
		t.Fatalf("%d attempts still held after drain", n)
	}
	atts := b.attempts(run.ID, "long")
	in := b.instances(run.ID)["long"]
	if len(atts) != 1 || atts[0].State != sluice.AttemptHandedBack || in.State != sluice.InstanceQueued || in.Failures != 0 {
		t.Fatalf("after drain: attempt %+v, instance %+v", atts[0], in)
	}
}

func TestDrainLetsShortTasksFinish(t *testing.T) {
	t.Parallel()
	b := setup(t)
	run := b.trigger(`id: short
tasks:
  short:
    run: touch started; sleep 0.5; echo finished
`)
	_, stop, done := b.start(worker.Config{DrainTimeout: 20 * time.Second})
	b.waitStarted()
	stop()
	<-done
	if s := b.waitRun(run.ID); s != sluice.RunSuccess {
		t.Fatalf("run %s", s)
	}
	if !strings.Contains(b.log(run.ID, "short"), "finished") {
		t.Fatal("the task's last output was not recorded")
	}
}

func TestKillDuringDrainHandsBack(t *testing.T) {
	t.Parallel()
	b := setup(t)
	run := b.trigger(`id: kill
tasks:
  long:
    run: touch started; sleep 60
`)
	w, stop, done := b.start(worker.Config{DrainTimeout: time.Hour, KillGrace: time.Second})
	b.waitStarted()
	stop()
	w.Kill() // the second signal
	<-done
	if atts := b.attempts(run.ID, "long"); atts[0].State != sluice.AttemptHandedBack {
		t.Fatalf("attempt = %s", atts[0].State)
	}
}

func TestUploadedPipelineRunsInTempDir(t *testing.T) {
	t.Parallel()
	b := setup(t)
	src := "id: up\ntasks:\n  a:\n    run: pwd; touch here\n    workdir: sub\n"
	p, err := pipeline.Parse("up.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.st.PipelineSave(b.ctx, catalog.SaveParams(p, []byte(src), "")); err != nil {
		t.Fatal(err)
	}
	run, _, err := b.st.RunCreate(b.ctx, &store.RunCreateParams{PipelineID: "up", Key: "k", Kind: store.RunManual})
	if err != nil {
		t.Fatal(err)
	}
	b.start(worker.Config{})
	if s := b.waitRun(run.ID); s != sluice.RunSuccess {
		t.Fatalf("run %s: %+v", s, b.attempts(run.ID, "a")[0])
	}
	if log := b.log(run.ID, "a"); !strings.Contains(log, "/sub\n") {
		t.Fatalf("log = %q", log)
	}
}

func TestEnvName(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"extract": "EXTRACT", "load-v2.x": "LOAD_V2_X", "row_count": "ROW_COUNT", "Ünï": "__N__"} {
		if got := worker.EnvName(in); got != want {
			t.Errorf("EnvName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCancelStopsRunningTask(t *testing.T) {
	t.Parallel()
	b := setup(t)
	run := b.trigger(`id: cancel
tasks:
  long:
    run: echo $$ > pid; sleep 60
`)
	// A long lease: the task must stop because of the cancel, not a beat.
	b.start(worker.Config{Lease: time.Hour, KillGrace: time.Second})
	pid := b.waitPid("pid")
	if err := b.st.RunCancel(b.ctx, run.ID); err != nil {
		t.Fatal(err)
	}
	b.waitFor("the task process to be killed", func() bool { return !sluicetest.Alive(pid) })
	if atts := b.attempts(run.ID, "long"); atts[0].State != sluice.AttemptCancelled {
		t.Fatalf("attempt = %+v", atts[0])
	}
}

// TestTaskEnvHidesCredentials: a task inherits the worker's environment,
// but not the database URL nor the key that seals secrets, which any
// pipeline's author could otherwise print.
func TestTaskEnvHidesCredentials(t *testing.T) {
	t.Setenv("SLUICE_DB", "postgres://sluice:hunter2@db/sluice")
	t.Setenv("SLUICE_SECRET_KEY", "c2VjcmV0LWtleS1zZWNyZXQta2V5LXNlY3JldC1rZXkh")
	t.Setenv("SLUICE_ADMIN_PASSWORD", "hunter3")
	t.Setenv("SLUICE_TEST_INHERITED", "yes")
	b := setup(t)
	run := b.trigger(`id: env
tasks:
  show:
    run: echo "db=${SLUICE_DB-unset} key=${SLUICE_SECRET_KEY-unset} admin=${SLUICE_ADMIN_PASSWORD-unset} inherited=$SLUICE_TEST_INHERITED"
`)
	b.start(worker.Config{})
	if s := b.waitRun(run.ID); s != sluice.RunSuccess {
		t.Fatalf("run %s: %q", s, b.log(run.ID, "show"))
	}
	if log := b.log(run.ID, "show"); !strings.Contains(log, " o db=unset key=unset admin=unset inherited=yes\n") {
		t.Errorf("the task's environment: %q", log)
	}
}

// logCounting counts how the worker writes logs: the store underneath is
// the real one.
type logCounting struct {
	store.Store
	mu        sync.Mutex
	singles   int
	batches   int
	mostInOne int
}

func (s *logCounting) AttemptLogAppend(ctx context.Context, p *store.AttemptLogAppendParams) error {
	s.mu.Lock()
	s.singles++
	s.mu.Unlock()
	return s.Store.AttemptLogAppend(ctx, p)
}

func (s *logCounting) AttemptLogAppendMany(ctx context.Context, ps []*store.AttemptLogAppendParams) ([]error, error) {
	s.mu.Lock()
	s.batches++
	s.mostInOne = max(s.mostInOne, len(ps))
	s.mu.Unlock()
	return s.Store.AttemptLogAppendMany(ctx, ps)
}

// Running tasks' logs reach the store together: one transaction carries
// the chunks of every attempt that wrote since the last, and each log
// arrives whole and in order.
func TestLogsOfAttemptsWrittenTogether(t *testing.T) {
	t.Parallel()
	b := setup(t)
	counting := &logCounting{Store: b.st}
	b.st = counting
	var src strings.Builder
	src.WriteString("id: chatty\ntasks:\n")
	for i := 0; i < 12; i++ {
		fmt.Fprintf(&src, "  t%d:\n    run: for i in $(seq 1 40); do echo \"line $i\"; sleep 0.02; done\n", i)
	}
	run := b.trigger(src.String())
	b.start(worker.Config{Concurrency: 16})
	if s := b.waitRun(run.ID); s != sluice.RunSuccess {
		t.Fatalf("run %s", s)
	}
	var want strings.Builder
	for i := 1; i <= 40; i++ {
		fmt.Fprintf(&want, "line %d\n", i)
	}
	for i := 0; i < 12; i++ {
		var got strings.Builder
		for _, line := range strings.SplitAfter(b.log(run.ID, fmt.Sprintf("t%d", i)), "\n") {
			// "<µs> o line 3\n": the stream's lines, without their times
			if f := strings.SplitN(line, " ", 3); len(f) == 3 && f[1] == "o" {
				got.WriteString(f[2])
			}
		}
		if got.String() != want.String() {
			t.Errorf("t%d's log:\n%s", i, got.String())
		}
	}
	counting.mu.Lock()
	defer counting.mu.Unlock()
	if counting.batches == 0 || counting.mostInOne < 2 {
		t.Errorf("%d log transactions, at most %d attempts' chunks in one: the attempts wrote alone", counting.batches, counting.mostInOne)
	}
	if counting.singles != 0 {
		t.Errorf("%d chunks written alone, with no buffer anywhere near %d bytes", counting.singles, 256<<10)
	}
}
