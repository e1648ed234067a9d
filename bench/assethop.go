package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/catalog"
	"github.com/sluice-dev/sluice/pipeline"
	"github.com/sluice-dev/sluice/store"
	"github.com/sluice-dev/sluice/worker"
)

// The asset-hop scenario is a chain of N pipelines linked by assets:
// bench_hop_0000 produces bench.hop.0000, bench_hop_0001 is scheduled on
// it and produces bench.hop.0001, and so on. A hop is one link: the
// producer's task succeeding (its attempt's finish) → the consumer's run
// made and its task queued (the instance's ready time) → that task
// started (its attempt's start). The producer's success, its asset event
// and the consumer's run commit in one transaction, and the commit wakes
// the workers; nothing polls in between.

// assetHopSources returns the scenario's pipeline files, in chain order.
func assetHopSources(n int) []string {
	out := make([]string, n)
	for i := range out {
		var b strings.Builder
		fmt.Fprintf(&b, "id: bench_hop_%04d\n", i)
		if i > 0 {
			fmt.Fprintf(&b, "schedule: {assets: [bench.hop.%04d]}\n", i-1)
		}
		fmt.Fprintf(&b, "tasks:\n  t:\n    noop: true\n    produces: [bench.hop.%04d]\n", i)
		out[i] = b.String()
	}
	return out
}

// AssetHop runs the asset-hop scenario: a run of the chain's first
// pipeline, and the runs the assets start down the chain.
func AssetHop(ctx context.Context, o Options) (*Result, error) {
	if o.Tasks <= 0 {
		o.Tasks = 100
	}
	if o.Tasks < 2 {
		return nil, errors.New("asset-hop needs --tasks 2 or more: a producer and a consumer")
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 16
	}
	if o.Workers <= 0 {
		o.Workers = 1
	}
	dir, err := os.MkdirTemp("", "sluice-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	st, dbURL, cleanup, err := openStore(ctx, o, dir)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	res := newResult(o, dbURL)
	res.Tasks = o.Tasks

	ids := make([]string, o.Tasks)
	var first int64
	for i, src := range assetHopSources(o.Tasks) {
		name := fmt.Sprintf("bench_hop_%04d.yaml", i)
		p, err := pipeline.Parse(name, []byte(src))
		if err != nil {
			return nil, fmt.Errorf("scenario pipeline: %w", err)
		}
		saved, err := st.PipelineSave(ctx, catalog.SaveParams(p, []byte(src), dir+"/"+name))
		if err != nil {
			return nil, err
		}
		ids[i] = p.ID
		if i == 0 {
			first = saved.VersionID
		}
	}
	stopWorkers, err := startWorkers(ctx, st, o, dbURL)
	if err != nil {
		return nil, err
	}
	defer stopWorkers()
	run, _, err := st.RunCreate(ctx, &store.RunCreateParams{PipelineID: ids[0], VersionID: first, Key: "bench", Kind: store.RunManual, LogicalDate: time.Now()})
	if err != nil {
		return nil, err
	}
	last, err := waitRun(ctx, st, ids[len(ids)-1])
	if err != nil {
		return nil, err
	}
	res.Seconds = last.FinishedAt.Sub(run.CreatedAt).Seconds()
	res.TasksPerSec = float64(res.Tasks) / res.Seconds

	// Each pipeline has one run, of one task, with one attempt.
	type step struct {
		ready, started, finished time.Time
	}
	steps := make([]step, len(ids))
	for i, id := range ids {
		runs, err := st.RunList(ctx, &store.RunListParams{PipelineID: id})
		if err != nil {
			return nil, err
		}
		if len(runs) != 1 || runs[0].State != sluice.RunSuccess {
			return nil, fmt.Errorf("pipeline %s: %d runs, want one that succeeded", id, len(runs))
		}
		ins, err := st.InstanceList(ctx, runs[0].ID)
		if err != nil {
			return nil, err
		}
		atts, err := st.AttemptListByRun(ctx, runs[0].ID)
		if err != nil {
			return nil, err
		}
		if len(ins) != 1 || ins[0].ReadyAt == nil || len(atts) != 1 || atts[0].FinishedAt == nil {
			return nil, fmt.Errorf("pipeline %s: %d instances and %d attempts, want one finished attempt", id, len(ins), len(atts))
		}
		steps[i] = step{ready: *ins[0].ReadyAt, started: atts[0].StartedAt, finished: *atts[0].FinishedAt}
	}
	var queued, started []time.Duration
	for i := 1; i < len(steps); i++ {
		queued = append(queued, steps[i].ready.Sub(steps[i-1].finished))
		started = append(started, steps[i].started.Sub(steps[i-1].finished))
	}
	res.Queued, res.Started = spread(queued), spread(started)
	res.setHops(res.Started)
	res.PeakRSSMB = peakRSSMB()
	return res, nil
}

// newResult starts a scenario's result with what describes the setup.
func newResult(o Options, dbURL string) *Result {
	storeName := "sqlite"
	if dbURL != "" {
		storeName = "postgres"
	}
	return &Result{Scenario: o.Scenario, Store: storeName, Workers: o.Workers, WorkerProcs: o.WorkerProcs, Concurrency: o.Concurrency,
		CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), Date: time.Now().UTC().Format(time.RFC3339)}
}

// startWorkers starts the scenario's workers, in this process or as
// `sluice worker` processes, and returns once every one is ready to
// claim.
func startWorkers(ctx context.Context, st store.Store, o Options, dbURL string) (stop func(), err error) {
	wctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	stops := []func(){func() { cancel(); wg.Wait() }}
	stop = func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	if o.WorkerProcs > 0 {
		if dbURL == "" {
			stop()
			return nil, errors.New("--workers-procs needs --db postgres://…: worker processes cannot share a SQLite store")
		}
		stopProcs, err := startWorkerProcs(wctx, o, dbURL)
		if err != nil {
			stop()
			return nil, err
		}
		stops = append(stops, stopProcs)
	} else {
		quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
		for i := 0; i < o.Workers; i++ {
			w, err := worker.New(worker.Config{Store: st, Concurrency: o.Concurrency, Logger: quiet, ID: "bench-" + strconv.Itoa(i),
				ContainerHost: o.ContainerHost})
			if err != nil {
				stop()
				return nil, err
			}
			wg.Add(1)
			go func() { defer wg.Done(); _ = w.Run(wctx) }()
		}
	}
	want := o.Workers
	if o.WorkerProcs > 0 {
		want = o.WorkerProcs
	}
	if err := waitWorkers(ctx, st, want); err != nil {
		stop()
		return nil, err
	}
	return stop, nil
}

// waitRun waits until the pipeline has a run and it finished with
// success, and returns it.
func waitRun(ctx context.Context, st store.Store, pipelineID string) (*store.Run, error) {
	deadline := time.Now().Add(10 * time.Minute)
	for {
		wake := st.Wait(store.TopicRuns)
		runs, err := st.RunList(ctx, &store.RunListParams{PipelineID: pipelineID, Limit: 1})
		if err != nil {
			return nil, err
		}
		if len(runs) > 0 && runs[0].State.Finished() {
			if runs[0].State != sluice.RunSuccess {
				return nil, fmt.Errorf("run %d of %s ended %s", runs[0].ID, pipelineID, runs[0].State)
			}
			return runs[0], nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("no finished run of %s after 10 minutes", pipelineID)
		}
		select {
		case <-wake:
		case <-time.After(time.Second):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}
