package scheduler_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/catalog"
	"github.com/sluice-dev/sluice/internal/pgtest"
	"github.com/sluice-dev/sluice/pipeline"
	"github.com/sluice-dev/sluice/scheduler"
	"github.com/sluice-dev/sluice/sluicetest"
	"github.com/sluice-dev/sluice/store"
	"github.com/sluice-dev/sluice/store/postgres"
)

// TestRetentionOneSchedulerPrunes runs retention on two schedulers sharing
// a PostgreSQL database: exactly one takes the job per interval, it prunes
// the runs past retention in batches, and a pipeline's own retention
// overrides the default.
func TestRetentionOneSchedulerPrunes(t *testing.T) {
	t.Parallel()
	url := pgtest.Schema(t)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	clock := sluicetest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	open := func() store.Store {
		s, err := postgres.Open(context.Background(), url, postgres.Options{MaxConns: 3, Logger: quiet, Clock: clock})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	st := open()
	ctx := context.Background()
	save := func(src string) {
		p, err := pipeline.Parse("p.yaml", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.PipelineSave(ctx, catalog.SaveParams(p, []byte(src), "")); err != nil {
			t.Fatal(err)
		}
	}
	save("id: short\nretention: 2d\ntasks:\n  a: {noop: true}\n")
	save("id: default\ntasks:\n  a: {noop: true}\n")
	// 250 finished runs of each pipeline, a day ago, plus a running one.
	finish := func(pipelineID string, n int) {
		for i := 0; i < n; i++ {
			r, _, err := st.RunCreate(ctx, &store.RunCreateParams{PipelineID: pipelineID, Key: pipelineID + time.Duration(i).String(), Kind: store.RunManual, LogicalDate: clock.Now()})
			if err != nil {
				t.Fatal(err)
			}
			if err := st.RunCancel(ctx, r.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	finish("short", 250)
	finish("default", 250)
	running, _, err := st.RunCreate(ctx, &store.RunCreateParams{PipelineID: "short", Key: "running", Kind: store.RunManual, LogicalDate: clock.Now()})
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(3 * 24 * time.Hour) // past short's 2 days, within the default 30

	a := scheduler.New(scheduler.Config{Store: st, Clock: clock, Logger: quiet, ID: "a", Retention: 30 * 24 * time.Hour, RetentionEvery: time.Hour})
	b := scheduler.New(scheduler.Config{Store: open(), Clock: clock, Logger: quiet, ID: "b", Retention: 30 * 24 * time.Hour, RetentionEvery: time.Hour})
	got, err := a.Prune(ctx)
	if err != nil || got == nil {
		t.Fatalf("a.Prune = %+v, %v; want it to run the job", got, err)
	}
	if got.Rows["runs"] != 250 {
		t.Fatalf("a pruned %d runs, want the 250 finished runs of short", got.Rows["runs"])
	}
	if again, err := b.Prune(ctx); err != nil || again != nil {
		t.Fatalf("b.Prune right after a = %+v, %v; want nil: the job ran this interval", again, err)
	}
	if r, err := st.RunGet(ctx, running.ID); err != nil || r.State.Finished() {
		t.Fatalf("the running run: %+v, %v", r, err)
	}
	if n, _ := st.RunList(ctx, &store.RunListParams{PipelineID: "default", Limit: 1000}); len(n) != 250 {
		t.Fatalf("default kept %d runs, want 250", len(n))
	}
	// A month later the default's runs go too, on whichever scheduler.
	clock.Advance(30 * 24 * time.Hour)
	got, err = b.Prune(ctx)
	if err != nil || got == nil || got.Rows["runs"] != 250 {
		t.Fatalf("b.Prune a month later = %+v, %v; want the 250 runs of default", got, err)
	}
	j, err := st.JobGet(ctx, scheduler.RetentionJob)
	if err != nil || j.Holder != "b" || !j.LastDoneAt.Equal(clock.Now()) {
		t.Fatalf("job = %+v, %v", j, err)
	}
}
