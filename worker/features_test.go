package worker_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/catalog"
	"github.com/sluice-dev/sluice/pipeline"
	"github.com/sluice-dev/sluice/secret"
	"github.com/sluice-dev/sluice/store"
	"github.com/sluice-dev/sluice/worker"
)

// savePipe saves a pipeline file (in b.dir under name) without running it.
func (b *testBundle) savePipe(name, src string) {
	b.t.Helper()
	file := filepath.Join(b.dir, name)
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		b.t.Fatal(err)
	}
	p, err := pipeline.Parse(file, []byte(src))
	if err != nil {
		b.t.Fatal(err)
	}
	if _, err := b.st.PipelineSave(b.ctx, catalog.SaveParams(p, []byte(src), file)); err != nil {
		b.t.Fatal(err)
	}
}

func TestWhenSkips(t *testing.T) {
	t.Parallel()
	b := setup(t)
	run := b.trigger(`id: when
params:
  region: {type: string, default: eu}
tasks:
  a: {run: echo "n=3" >> "$SLUICE_OUTPUT"}
  b:
    depends_on: [a]
    when: ${{ params.region == "us" && int(tasks.a.outputs.n) > 2 }}
    run: echo never
  c: {depends_on: [b], run: echo never}
  d: {depends_on: [b], trigger_rule: none_failed, run: echo "b was skipped"}
  e:
    depends_on: [a]
    when: ${{ int(tasks.a.outputs.n) == 3 }}
    run: echo yes
`)
	b.start(worker.Config{})
	if s := b.waitRun(run.ID); s != sluice.RunSuccess {
		t.Fatalf("run %s", s)
	}
	ins := b.instances(run.ID)
	for task, want := range map[string]sluice.InstanceState{"b": sluice.InstanceSkipped, "c": sluice.InstanceSkipped, "d": sluice.InstanceSuccess, "e": sluice.InstanceSuccess} {
		if ins[task].State != want {
			t.Errorf("%s = %s, want %s", task, ins[task].State, want)
		}
	}
	// b ran nothing: it keeps no attempt, and its note says why.
	if ins["b"].Attempts != 0 || ins["b"].Note != `when: ${{ params.region == "us" && int(tasks.a.outputs.n) > 2 }} is false` {
		t.Errorf("b: %d attempts, note %q", ins["b"].Attempts, ins["b"].Note)
	}
}

func TestMappingEndToEnd(t *testing.T) {
	t.Parallel()
	b := setup(t)
	run := b.trigger(`id: mapping
tasks:
  list:
    run: echo 'files=["a.csv","b.csv","c.csv"]' >> "$SLUICE_OUTPUT"
  load:
    depends_on: [list]
    for_each: ${{ fromJSON(tasks.list.outputs.files) }}
    max_parallel: 2
    env: {FILE: "${{ item }}"}
    run: |
      echo "item $SLUICE_ITEM index $SLUICE_ITEM_INDEX file $FILE"
      echo "size=${#SLUICE_ITEM}" >> "$SLUICE_OUTPUT"
  fixed:
    for_each: [1, 2]
    run: echo "n$SLUICE_ITEM"
  after:
    depends_on: [load, fixed]
    run: |
      echo "sizes $SLUICE_OUTPUT_LOAD_SIZE"
      test "$SLUICE_OUTPUT_LOAD_SIZE" = '["5","5","5"]'
`)
	b.start(worker.Config{})
	if s := b.waitRun(run.ID); s != sluice.RunSuccess {
		t.Fatalf("run %s: after log %q", s, b.log(run.ID, "after"))
	}
	all, _ := b.st.InstanceList(b.ctx, run.ID)
	items := 0
	for _, in := range all {
		if in.TaskID == "load" && in.MapIndex >= 0 {
			items++
			atts, _ := b.st.AttemptList(b.ctx, in.ID)
			chunks, _ := b.st.LogList(b.ctx, atts[0].ID, 0)
			want := "item " + *in.Item + " index " + string(rune('0'+in.MapIndex)) + " file " + *in.Item
			if len(chunks) == 0 || !strings.Contains(string(chunks[0].Data), want) {
				t.Errorf("item %d log lacks %q", in.MapIndex, want)
			}
		}
	}
	if items != 3 {
		t.Fatalf("%d items of load", items)
	}
}

// A range (${{ 1..N }}) is a list of ints: each becomes an item, as
// text.
func TestMappingOverARange(t *testing.T) {
	t.Parallel()
	b := setup(t)
	run := b.trigger(`id: mapping_range
tasks:
  each:
    for_each: ${{ 1..3 }}
    run: echo "n=$SLUICE_ITEM" >> "$SLUICE_OUTPUT"
  after:
    depends_on: [each]
    run: test "$SLUICE_OUTPUT_EACH_N" = '["1","2","3"]'
`)
	b.start(worker.Config{})
	if s := b.waitRun(run.ID); s != sluice.RunSuccess {
		t.Fatalf("run %s: after log %q", s, b.log(run.ID, "after"))
	}
}

func TestHTTPTask(t *testing.T) {
	t.Parallel()
	var (
		mu  sync.Mutex
		got string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = r.Method + " " + r.URL.RequestURI() + " " + r.Header.Get("X-Run") + " " + string(body)
		mu.Unlock()
		w.Write([]byte(`{"loaded": 42}`))
	}))
	t.Cleanup(srv.Close)
	b := setup(t)
	run := b.trigger(`id: http
params:
  table: {type: string, default: orders}
tasks:
  prep: {run: echo "rows=7" >> "$SLUICE_OUTPUT"}
  load:
    depends_on: [prep]
    http:
      method: POST
      url: ` + srv.URL + `/load?table=${{ params.table }}
      headers: {X-Run: "${{ run.id }}"}
      body: '{"rows": ${{ tasks.prep.outputs.rows }}}'
  check:
    depends_on: [load]
    run: test "$SLUICE_OUTPUT_LOAD_STATUS" = 200 && echo "$SLUICE_OUTPUT_LOAD_BODY"
`)
	b.start(worker.Config{})
	if s := b.waitRun(run.ID); s != sluice.RunSuccess {
		t.Fatalf("run %s: %q", s, b.log(run.ID, "load"))
	}
	mu.Lock()
	defer mu.Unlock()
	if want := "POST /load?table=orders " + itoa(run.ID) + ` {"rows": 7}`; got != want {
		t.Fatalf("request = %q, want %q", got, want)
	}
	if !strings.Contains(b.log(run.ID, "check"), `{"loaded": 42}`) {
		t.Fatalf("check log = %q", b.log(run.ID, "check"))
	}
}

func itoa(n int64) string {
	return strings.TrimSpace(strings.Replace(string(mustJSON(n)), "\n", "", -1))
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

func TestSensorFileWaitsWithoutASlot(t *testing.T) {
	t.Parallel()
	b := setup(t)
	flag := filepath.Join(b.dir, "ready.flag")
	run := b.trigger(`id: sensor
tasks:
  wait:
    wait_for: {file: "` + filepath.Join(b.dir, "*.flag") + `", poke_interval: 1s, timeout: 1m}
  after: {depends_on: [wait], run: echo go}
  busy: {run: echo other work}
`)
	// One slot: the sensor must give it up between pokes so busy can run.
	b.start(worker.Config{Concurrency: 1})
	b.waitFor("the sensor to wait", func() bool {
		return b.instances(run.ID)["wait"].State == sluice.InstanceUpForReschedule
	})
	b.waitFor("the other task to run meanwhile", func() bool {
		return b.instances(run.ID)["busy"].State == sluice.InstanceSuccess
	})
	if err := os.WriteFile(flag, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if s := b.waitRun(run.ID); s != sluice.RunSuccess {
		t.Fatalf("run %s", s)
	}
	atts := b.attempts(run.ID, "wait")
	if len(atts) < 2 || atts[0].State != sluice.AttemptRescheduled || atts[len(atts)-1].State != sluice.AttemptSuccess {
		t.Fatalf("attempts: %d, first %s", len(atts), atts[0].State)
	}
	if in := b.instances(run.ID)["wait"]; in.Failures != 0 {
		t.Fatalf("pokes counted as failures: %d", in.Failures)
	}
}

func TestSensorTimesOut(t *testing.T) {
	t.Parallel()
	b := setup(t)
	run := b.trigger(`id: sensor_timeout
tasks:
  wait:
    wait_for: {url: "http://127.0.0.1:1/never", poke_interval: 1s, timeout: 2s}
`)
	b.start(worker.Config{})
	if s := b.waitRun(run.ID); s != sluice.RunFailed {
		t.Fatalf("run %s", s)
	}
	atts := b.attempts(run.ID, "wait")
	last := atts[len(atts)-1]
	if last.State != sluice.AttemptTimedOut || !strings.Contains(last.Error, "waited") || !strings.Contains(last.Error, "http://127.0.0.1:1/never") {
		t.Fatalf("last attempt: %+v", last)
	}
}

func TestSubPipelineAndSensorOnIt(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.savePipe("child.yaml", `id: child
params:
  day: {type: string, required: true}
tasks:
  work: {run: echo "child for $SLUICE_PARAM_DAY"}
`)
	run := b.trigger(`id: parent
tasks:
  call:
    pipeline: child
    params: {day: "${{ run.ds }}"}
  watch:
    wait_for: {pipeline: child, poke_interval: 1s, timeout: 1m}
  after: {depends_on: [call, watch], run: echo "child run $SLUICE_OUTPUT_CALL_RUN_ID"}
`)
	b.start(worker.Config{})
	if s := b.waitRun(run.ID); s != sluice.RunSuccess {
		t.Fatalf("run %s: call %+v", s, b.attempts(run.ID, "call"))
	}
	children, _ := b.st.RunList(b.ctx, &store.RunListParams{PipelineID: "child"})
	if len(children) != 1 || children[0].ParentRunID == nil || *children[0].ParentRunID != run.ID || children[0].ParentTask != "call" ||
		string(children[0].Params) != `{"day":"2026-05-04"}` || !children[0].LogicalDate.Equal(run.LogicalDate) {
		t.Fatalf("child runs: %+v", children)
	}
	if !strings.Contains(b.log(run.ID, "after"), "child run "+itoa(children[0].ID)) {
		t.Fatalf("after log: %q", b.log(run.ID, "after"))
	}
}

func TestCallbacks(t *testing.T) {
	t.Parallel()
	var (
		mu    sync.Mutex
		hooks []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		hooks = append(hooks, string(body))
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	b := setup(t)
	marks := filepath.Join(b.dir, "marks")
	run := b.trigger(`id: callbacks
on_failure:
  http: {method: POST, url: "` + srv.URL + `", body: '${{ run.pipeline }} run ${{ run.id }} ${{ run.state }}'}
on_success:
  run: echo never >> ` + marks + `
tasks:
  flaky:
    retries: 1
    retry_delay: 0s
    run: echo "attempt $SLUICE_ATTEMPT" >&2; exit 1
    on_retry: {run: 'echo "retry $SLUICE_TASK $SLUICE_ATTEMPT $SLUICE_ERROR" >> ` + marks + `'}
    on_failure: {run: 'echo "failure $SLUICE_TASK $SLUICE_EVENT" >> ` + marks + `; exit 3'}
  fine:
    run: "true"
    on_success: {command: [sh, -c, 'echo "success $SLUICE_TASK" >> ` + marks + `']}
`)
	b.start(worker.Config{})
	if s := b.waitRun(run.ID); s != sluice.RunFailed {
		t.Fatalf("run %s", s)
	}
	b.waitFor("the callbacks", func() bool {
		data, _ := os.ReadFile(marks)
		mu.Lock()
		defer mu.Unlock()
		return strings.Count(string(data), "\n") >= 3 && len(hooks) == 1
	})
	data, _ := os.ReadFile(marks)
	for _, want := range []string{"retry flaky 1 exited with code 1", "failure flaky failure", "success fine"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("callbacks wrote %q, missing %q", data, want)
		}
	}
	if strings.Contains(string(data), "never") {
		t.Error("on_success of a failed run ran")
	}
	mu.Lock()
	if hooks[0] != "callbacks run "+itoa(run.ID)+" failed" {
		t.Errorf("hook body = %q", hooks[0])
	}
	mu.Unlock()
	// The failing on_failure callback (exit 3) did not change the run.
	if r, _ := b.st.RunGet(b.ctx, run.ID); r.State != sluice.RunFailed {
		t.Fatalf("run = %s", r.State)
	}
}

func TestSecretsMasked(t *testing.T) {
	t.Parallel()
	b := setup(t)
	box, err := secret.NewBox(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.st.SecretSet(b.ctx, "DB_PASSWORD", box.Seal("DB_PASSWORD", []byte("hunter2-s3cret"))); err != nil {
		t.Fatal(err)
	}
	run := b.trigger(`id: secrets
tasks:
  use:
    secrets: [DB_PASSWORD]
    run: |
      echo "password is $DB_PASSWORD"
      test "$DB_PASSWORD" = hunter2-s3cret
  missing:
    secrets: [NOPE]
    run: echo never
`)
	b.start(worker.Config{Secrets: box})
	if s := b.waitRun(run.ID); s != sluice.RunFailed {
		t.Fatalf("run %s", s)
	}
	if in := b.instances(run.ID)["use"]; in.State != sluice.InstanceSuccess {
		t.Fatalf("use = %s: %+v", in.State, b.attempts(run.ID, "use"))
	}
	log := b.log(run.ID, "use")
	if strings.Contains(log, "hunter2") || !strings.Contains(log, "password is ***") {
		t.Fatalf("log = %q", log)
	}
	if atts := b.attempts(run.ID, "missing"); !strings.Contains(atts[0].Error, "secret NOPE is not set") {
		t.Fatalf("missing: %+v", atts[0])
	}
}

func TestWorkerLabels(t *testing.T) {
	t.Parallel()
	b := setup(t)
	run := b.trigger(`id: labels
tasks:
  gpu: {requires: [gpu], run: echo on a gpu}
  any: {run: echo anywhere}
`)
	_, stop, done := b.start(worker.Config{})
	b.waitFor("the unlabelled task", func() bool { return b.instances(run.ID)["any"].State == sluice.InstanceSuccess })
	stop()
	<-done
	if s := b.instances(run.ID)["gpu"].State; s != sluice.InstanceQueued {
		t.Fatalf("gpu = %s on a worker without the label", s)
	}
	b.start(worker.Config{Labels: []string{"gpu", "linux"}})
	if s := b.waitRun(run.ID); s != sluice.RunSuccess {
		t.Fatalf("run %s", s)
	}
}

var _ = context.Background
var _ = time.Second
