package scheduler_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/catalog"
	"github.com/sluice-dev/sluice/pipeline"
	"github.com/sluice-dev/sluice/scheduler"
	"github.com/sluice-dev/sluice/sluicetest"
	"github.com/sluice-dev/sluice/store"
	"github.com/sluice-dev/sluice/store/sqlite"
)

// TestBlockedReasonSoon checks, on the store's clock, that a task nothing
// can run gets its reason from the first pass made a second after it
// became ready (it took 5 to 10 s before).
func TestBlockedReasonSoon(t *testing.T) {
	t.Parallel()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	clock := sluicetest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir(), sqlite.Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	src := "id: gpu\ntasks:\n  train:\n    requires: [gpu]\n    run: echo trained\n"
	p, err := pipeline.Parse("gpu.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.PipelineSave(ctx, catalog.SaveParams(p, []byte(src), "")); err != nil {
		t.Fatal(err)
	}
	if err := st.WorkerUpsert(ctx, &store.WorkerInfo{ID: "w1", Labels: []string{"linux"}, LastSeenAt: clock.Now()}); err != nil {
		t.Fatal(err)
	}
	run, _, err := st.RunCreate(ctx, &store.RunCreateParams{PipelineID: "gpu", Key: "k", Kind: store.RunManual, LogicalDate: clock.Now()})
	if err != nil {
		t.Fatal(err)
	}
	s := scheduler.New(scheduler.Config{Store: st, Logger: quiet, Clock: clock})
	blocked := func() string {
		t.Helper()
		insts, err := st.InstanceList(ctx, run.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range insts {
			if in.TaskID == "train" {
				return in.Blocked
			}
		}
		t.Fatal("no instance of train")
		return ""
	}
	if _, err := s.Tick(ctx); err != nil { // makes the instance ready
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	if _, err := s.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if got := blocked(); !strings.Contains(got, "no live worker has the label(s) gpu") {
		t.Fatalf("one second after it became ready, train's blocked reason is %q", got)
	}
}
