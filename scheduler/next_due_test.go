package scheduler_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/catalog"
	"github.com/sluice-dev/sluice/pipeline"
	"github.com/sluice-dev/sluice/scheduler"
	"github.com/sluice-dev/sluice/sluicetest"
	"github.com/sluice-dev/sluice/store"
	"github.com/sluice-dev/sluice/store/sqlite"
)

// TestTickReturnsNextDueOfAll checks that a pass which finds nothing due
// (one woken by a run finishing) still returns when the next pipeline is
// due: before, it returned nothing and the scheduler slept its whole
// Interval, so with a run finishing right after each creation every
// "@every" run was queued up to a second late.
func TestTickReturnsNextDueOfAll(t *testing.T) {
	t.Parallel()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := sluicetest.NewClock(start)
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir(), sqlite.Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for i, every := range []string{"1m", "40s"} {
		src := fmt.Sprintf("id: p%d\nschedule: \"@every %s\"\ntasks:\n  t:\n    noop: true\n", i, every)
		p, err := pipeline.Parse("p.yaml", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.PipelineSave(ctx, catalog.SaveParams(p, []byte(src), "")); err != nil {
			t.Fatal(err)
		}
	}
	s := scheduler.New(scheduler.Config{Store: st, Logger: quiet, Clock: clock})
	next, err := s.Tick(ctx) // creates the first run of each
	if err != nil || next == nil || !next.Equal(start.Add(40*time.Second)) {
		t.Fatalf("first pass: next = %v, %v; want %v", next, err, start.Add(40*time.Second))
	}
	clock.Advance(10 * time.Second)
	next, err = s.Tick(ctx) // nothing due
	if err != nil || next == nil || !next.Equal(start.Add(40*time.Second)) {
		t.Fatalf("a pass with nothing due: next = %v, %v; want %v", next, err, start.Add(40*time.Second))
	}
	clock.Advance(30 * time.Second)
	next, err = s.Tick(ctx) // p1 due; p0 is next, not p1's own next time
	if err != nil || next == nil || !next.Equal(start.Add(time.Minute)) {
		t.Fatalf("after p1's second run: next = %v, %v; want %v", next, err, start.Add(time.Minute))
	}
}

// failingBatch is the real store whose batched run creation fails, as it
// does when one pipeline of a batch cannot get its run.
type failingBatch struct{ *sqlite.Store }

func (failingBatch) RunCreateScheduled(context.Context, []*store.ScheduledRuns) ([][]store.RunCreated, error) {
	return nil, errors.New("one pipeline of the batch failed")
}

// TestTickFallsBackToOneByOne checks that when a batch of runs fails, the
// pass creates each pipeline's runs on its own, so one pipeline's error
// does not leave the others without theirs.
func TestTickFallsBackToOneByOne(t *testing.T) {
	t.Parallel()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := sluicetest.NewClock(start)
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir(), sqlite.Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for i := range 3 {
		src := fmt.Sprintf("id: p%d\nschedule: \"@every 1m\"\ntasks:\n  t:\n    noop: true\n", i)
		p, err := pipeline.Parse("p.yaml", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.PipelineSave(ctx, catalog.SaveParams(p, []byte(src), "")); err != nil {
			t.Fatal(err)
		}
	}
	s := scheduler.New(scheduler.Config{Store: failingBatch{st}, Logger: quiet, Clock: clock})
	next, err := s.Tick(ctx)
	if err != nil || next == nil || !next.Equal(start.Add(time.Minute)) {
		t.Fatalf("next = %v, %v; want %v", next, err, start.Add(time.Minute))
	}
	for i := range 3 {
		p, err := st.PipelineGet(ctx, fmt.Sprintf("p%d", i))
		if err != nil || p.LastScheduledAt == nil || !p.LastScheduledAt.Equal(start) || p.NextDueAt == nil || !p.NextDueAt.Equal(start.Add(time.Minute)) {
			t.Fatalf("p%d = %+v, %v; want a run at %v, next due a minute later", i, p, err, start)
		}
	}
}
