package scheduler_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/catalog"
	"github.com/sluice-dev/sluice/internal/pgtest"
	"github.com/sluice-dev/sluice/pipeline"
	"github.com/sluice-dev/sluice/scheduler"
	"github.com/sluice-dev/sluice/store"
	"github.com/sluice-dev/sluice/store/postgres"
	"github.com/sluice-dev/sluice/worker"
)

// TestThreeSchedulersRace runs three schedulers and two workers, each with
// its own connection pool as if in its own process, against one
// PostgreSQL database, on a catch-up backlog of 30 runs. Every run must be
// created once, every task instance promoted and run once, and
// max_active_runs never exceeded.
func TestThreeSchedulersRace(t *testing.T) {
	t.Parallel()
	url := pgtest.Schema(t)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	open := func() store.Store {
		s, err := postgres.Open(context.Background(), url, postgres.Options{MaxConns: 3, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	const runs, maxActive = 30, 3
	start := time.Now().UTC().Truncate(time.Minute).Add(-(runs + 5) * time.Minute)
	src := fmt.Sprintf(`id: backlog
schedule: "* * * * *"
catchup: true
start: %s
end: %s
max_active_runs: %d
tasks:
  a: {noop: true}
  b: {noop: true, depends_on: [a]}
  c: {noop: true, depends_on: [a]}
  d: {noop: true, depends_on: [b, c]}
`, start.Format(time.RFC3339), start.Add((runs-1)*time.Minute).Format(time.RFC3339), maxActive)
	p, err := pipeline.Parse("backlog.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	first := open()
	if _, err := first.PipelineSave(context.Background(), catalog.SaveParams(p, []byte(src), "")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		st := first
		if i > 0 {
			st = open()
		}
		s := scheduler.New(scheduler.Config{Store: st, Logger: quiet, Interval: 50 * time.Millisecond})
		wg.Add(1)
		go func() { defer wg.Done(); _ = s.Run(ctx) }()
	}
	for i := 0; i < 2; i++ {
		w, err := worker.New(worker.Config{Store: open(), Logger: quiet, ID: fmt.Sprint("w", i), Concurrency: 4, Poll: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() { defer wg.Done(); _ = w.Run(ctx) }()
	}
	defer func() { cancel(); wg.Wait() }()

	deadline := time.Now().Add(90 * time.Second)
	var all []*store.Run
	for {
		all, err = first.RunList(context.Background(), &store.RunListParams{PipelineID: "backlog", Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		done := 0
		for _, r := range all {
			if r.State == sluice.RunSuccess {
				done++
			}
		}
		if done == runs {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d runs succeeded, %d created", done, runs, len(all))
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	all, _ = first.RunList(context.Background(), &store.RunListParams{PipelineID: "backlog", Limit: 1000})
	if len(all) != runs {
		t.Fatalf("%d runs created, want %d", len(all), runs)
	}
	dates := map[time.Time]bool{}
	type span struct{ start, end time.Time }
	var spans []span
	for _, r := range all {
		if dates[r.LogicalDate] {
			t.Fatalf("two runs for %v", r.LogicalDate)
		}
		dates[r.LogicalDate] = true
		spans = append(spans, span{*r.StartedAt, *r.FinishedAt})
		ins, _ := first.InstanceList(context.Background(), r.ID)
		if len(ins) != 4 {
			t.Fatalf("run %d has %d instances", r.ID, len(ins))
		}
		atts, _ := first.AttemptListByRun(context.Background(), r.ID)
		if len(atts) != 4 {
			t.Fatalf("run %d has %d attempts for 4 tasks: an instance ran twice", r.ID, len(atts))
		}
		for _, in := range ins {
			if in.State != sluice.InstanceSuccess || in.Attempts != 1 {
				t.Fatalf("instance %+v", in)
			}
		}
	}
	// At no moment were more than max_active_runs running.
	type edge struct {
		at    time.Time
		delta int
	}
	var edges []edge
	for _, s := range spans {
		edges = append(edges, edge{s.start, 1}, edge{s.end, -1})
	}
	sort.Slice(edges, func(i, j int) bool {
		if edges[i].at.Equal(edges[j].at) {
			return edges[i].delta < edges[j].delta
		}
		return edges[i].at.Before(edges[j].at)
	})
	running, peak := 0, 0
	for _, e := range edges {
		running += e.delta
		peak = max(peak, running)
	}
	if peak > maxActive {
		t.Fatalf("%d runs ran at once, max_active_runs is %d", peak, maxActive)
	}
}
