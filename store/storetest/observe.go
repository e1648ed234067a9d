package storetest

import (
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/store"
)

// recorder is an Observer that keeps what it heard.
type recorder struct {
	mu    sync.Mutex
	ops   map[string]int
	runs  []store.RunEvent
	fails int
}

func (r *recorder) DBCall(op string, d time.Duration, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ops == nil {
		r.ops = map[string]int{}
	}
	r.ops[op]++
	if err != nil {
		r.fails++
	}
}

func (r *recorder) RunChanged(e store.RunEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.runs = append(r.runs, e)
}

// testObserveAndStats checks what a store tells its observer, its schema
// check and its stats: the figures behind the metrics.
func testObserveAndStats(t *testing.T, open Opener) {
	b := setup(t, open)
	if sc, ok := b.s.(store.SchemaChecker); ok {
		if err := sc.SchemaCheck(b.ctx); err != nil {
			t.Fatalf("SchemaCheck on a migrated store: %v", err)
		}
	}
	ob, ok := b.s.(store.Observable)
	if !ok {
		t.Skip("store takes no observer")
	}
	rec := &recorder{}
	ob.SetObserver(rec)
	b.save("p", 5, task{id: "a"}, task{id: "b", up: []string{"a"}})
	run := b.createRun("p", "r1")
	b.mustComplete(b.claimOne("a"), sluice.AttemptSuccess)
	if sr, ok := b.s.(store.StatsReader); ok {
		s, err := sr.StatsGet(b.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if s.Ready[""] != 1 || s.ActiveRuns[string(sluice.RunRunning)] != 1 {
			t.Errorf("stats with b ready: ready %v, active runs %v; want 1 ready, 1 running", s.Ready, s.ActiveRuns)
		}
	}
	b.mustComplete(b.claimOne("b"), sluice.AttemptSuccess)
	second := b.createRun("p", "r2")
	if err := b.s.RunCancel(b.ctx, second.ID); err != nil {
		t.Fatal(err)
	}

	rec.mu.Lock()
	defer rec.mu.Unlock()
	want := []store.RunEvent{
		{PipelineID: "p", Kind: store.RunManual, State: sluice.RunRunning},
		{PipelineID: "p", Kind: store.RunManual, State: sluice.RunSuccess},
		{PipelineID: "p", Kind: store.RunManual, State: sluice.RunRunning},
		{PipelineID: "p", Kind: store.RunManual, State: sluice.RunCancelled},
	}
	if len(rec.runs) != len(want) {
		t.Fatalf("run events %+v, want %+v (run %d)", rec.runs, want, run.ID)
	}
	for i := range want {
		if rec.runs[i] != want[i] {
			t.Errorf("run event %d = %+v, want %+v", i, rec.runs[i], want[i])
		}
	}
	for _, op := range []string{"RunCreate", "AttemptComplete", "InstanceClaim", "RunCancel", "read"} {
		if rec.ops[op] == 0 {
			t.Errorf("no %s call observed; saw %v", op, rec.ops)
		}
	}
	if rec.fails != 0 {
		t.Errorf("%d calls observed failing, want none", rec.fails)
	}
}

// testProbeWrite checks the write probe: it succeeds on a healthy store,
// is observed as a write, and changes nothing.
func testProbeWrite(t *testing.T, open Opener) {
	b := setup(t, open)
	p, ok := b.s.(store.WriteProber)
	if !ok {
		t.Skip("store has no write probe")
	}
	b.save("p", 5, task{id: "a"})
	before, err := b.s.PipelineGet(b.ctx, "p")
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	if ob, ok := b.s.(store.Observable); ok {
		ob.SetObserver(rec)
	}
	if err := p.ProbeWrite(b.ctx); err != nil {
		t.Fatalf("ProbeWrite on a healthy store: %v", err)
	}
	after, err := b.s.PipelineGet(b.ctx, "p")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(after, before) {
		t.Errorf("ProbeWrite changed the pipeline:\n%+v\n%+v", before, after)
	}
	if _, ok := b.s.(store.Observable); ok && rec.ops["ProbeWrite"] != 1 {
		t.Errorf("ProbeWrite observed %d times, want once: %v", rec.ops["ProbeWrite"], rec.ops)
	}
}
