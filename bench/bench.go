// Package bench measures sluice on fixed scenarios, for `sluice bench`:
// the whole engine (store, worker, executor) in one process on a fresh
// temporary store, timed from the database's own records.
package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/catalog"
	"github.com/sluice-dev/sluice/docker"
	"github.com/sluice-dev/sluice/pipeline"
	"github.com/sluice-dev/sluice/store"
)

// Scenarios lists the scenarios with what they measure.
var Scenarios = map[string]string{
	"chain":            "N sequential noop tasks; hop = upstream finished → downstream started",
	"fanout":           "N independent noop tasks and one join; throughput",
	"shell-chain":      "N sequential `true` shell tasks; compared with N bare fork/execs",
	"shell-fanout":     "N independent `true` shell tasks and one join; compared with N bare fork/execs at the same concurrency",
	"soak":             "a steady stream of runs (N task instances, default 100,000) with a short retention; shows the database size levelling off",
	"container-chain":  "N sequential container tasks running `true`; compared with N bare create/start/wait/remove through the engine's API",
	"container-fanout": "N independent container tasks running `true` and one join; compared with N bare containers at the same concurrency",
	"asset-hop":        "N pipelines chained by assets (each scheduled on the last one's); hop = producer task succeeded → consumer's task queued / started",
	"k8s-fanout":       "N independent Kubernetes pod tasks (default 200) on a kwok node, one worker; pods created, completed and cleaned per second, API requests per task, leaks",
	"webhook":          "--requests N signed POSTs to /hooks/, one after another; request → answered (run queued) / first task queued / started",
}

// Options configure a benchmark run.
type Options struct {
	Scenario string
	// Tasks is N; default 1,000 (100 pipelines for asset-hop).
	Tasks int
	// Requests is the number of deliveries of the webhook scenario;
	// default 200.
	Requests int
	// Concurrency is each worker's slot count; default 16.
	Concurrency int
	// Workers is the number of workers in this process; default 1.
	Workers int
	// Sync is the SQLite durability; default normal.
	Sync string
	// DB is a postgres:// URL to run on PostgreSQL, in a fresh schema that
	// is dropped afterwards; empty for a temporary SQLite store.
	DB string
	// WorkerProcs runs the workers as that many `sluice worker` processes
	// (PostgreSQL only) instead of in this process.
	WorkerProcs int
	// Binary is the sluice binary for worker processes; default this one.
	Binary string
	// ContainerHost is the engine of the container scenarios; default
	// $DOCKER_HOST or Docker's socket.
	ContainerHost string
	// Image is the image of the container scenarios' tasks; it must be on
	// the engine and run `true`. Default DefaultImage.
	Image string
}

// DefaultImage is the container scenarios' image: the one .ci/podman.sh
// builds from busybox.
const DefaultImage = "localhost/sluice-test:busybox"

// Result holds a scenario's figures. Times come from the store's records.
type Result struct {
	Scenario    string  `json:"scenario"`
	Store       string  `json:"store"`
	Tasks       int     `json:"tasks"`
	Workers     int     `json:"workers"`
	WorkerProcs int     `json:"worker_procs,omitempty"`
	Concurrency int     `json:"concurrency"`
	Seconds     float64 `json:"seconds"`
	TasksPerSec float64 `json:"tasks_per_sec"`
	Hops        int     `json:"hops"`
	HopP50Ms    float64 `json:"hop_p50_ms"`
	HopP99Ms    float64 `json:"hop_p99_ms"`
	HopMaxMs    float64 `json:"hop_max_ms"`
	// Queued, Started and Answered are the asset-hop and webhook
	// scenarios' delays: until the consumer's (or the delivery's) run has
	// its task queued, until that task started, and until the webhook's
	// answer arrived.
	Queued   *Latency `json:"queued,omitempty"`
	Started  *Latency `json:"started,omitempty"`
	Answered *Latency `json:"answered,omitempty"`
	// BaselineSeconds is the time of the same number of bare fork/execs of
	// the same command (shell scenarios), or of bare containers through
	// the engine's API (container scenarios), measured in the same run:
	// the mean of BaselineBefore and BaselineAfter, measured right before
	// and right after the run, so that a change of the machine's load
	// during the run weighs on both sides of the ratio alike.
	BaselineSeconds *float64 `json:"baseline_seconds,omitempty"`
	BaselineBefore  *float64 `json:"baseline_before_seconds,omitempty"`
	BaselineAfter   *float64 `json:"baseline_after_seconds,omitempty"`
	// PeakRSSMB is the peak resident memory of the process.
	PeakRSSMB float64 `json:"peak_rss_mb"`
	CPUs      int     `json:"cpus"`
	GoVersion string  `json:"go_version"`
	Date      string  `json:"date"`
}

// Source returns the pipeline file of a scenario; image is the container
// scenarios' image (default DefaultImage).
func Source(scenario string, n int, image string) (string, error) {
	if image == "" {
		image = DefaultImage
	}
	switch scenario {
	case "asset-hop":
		// One file per pipeline, each after a comment naming it.
		var b strings.Builder
		for i, src := range assetHopSources(n) {
			fmt.Fprintf(&b, "# bench_hop_%04d.yaml\n%s", i, src)
		}
		return b.String(), nil
	case "webhook":
		return WebhookSource, nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "id: bench_%s\nmax_active_runs: 1\ntasks:\n", strings.ReplaceAll(scenario, "-", "_"))
	body := "    noop: true\n"
	switch {
	case strings.HasPrefix(scenario, "shell-"):
		body = "    run: \"true\"\n"
	case strings.HasPrefix(scenario, "container-"):
		body = fmt.Sprintf("    container: {image: %q, pull: never}\n    command: [\"true\"]\n", image)
	}
	switch scenario {
	case "chain", "shell-chain", "container-chain":
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "  t%05d:\n%s", i, body)
			if i > 0 {
				fmt.Fprintf(&b, "    depends_on: [t%05d]\n", i-1)
			}
		}
	case "fanout", "shell-fanout", "container-fanout":
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "  t%05d:\n%s", i, body)
		}
		b.WriteString("  join:\n    noop: true\n    depends_on:\n")
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "      - t%05d\n", i)
		}
	default:
		return "", fmt.Errorf("unknown scenario %q: want one of chain, fanout, shell-chain, shell-fanout, container-chain, container-fanout, asset-hop, webhook", scenario)
	}
	return b.String(), nil
}

// Run runs one scenario on a fresh temporary SQLite store.
func Run(ctx context.Context, o Options) (*Result, error) {
	if o.Tasks <= 0 {
		o.Tasks = 1000
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 16
	}
	if o.Workers <= 0 {
		o.Workers = 1
	}
	if o.ContainerHost == "" {
		o.ContainerHost = docker.HostFromEnv()
	}
	if o.Image == "" {
		o.Image = DefaultImage
	}
	src, err := Source(o.Scenario, o.Tasks, o.Image)
	if err != nil {
		return nil, err
	}
	p, err := pipeline.Parse(o.Scenario+".yaml", []byte(src))
	if err != nil {
		return nil, fmt.Errorf("scenario pipeline: %w", err)
	}
	var baseBefore float64
	var bare func() (float64, error) // the scenario's baseline, if it has one
	switch {
	case strings.HasPrefix(o.Scenario, "shell-"):
		par := 1
		if o.Scenario == "shell-fanout" {
			par = o.Concurrency * o.Workers
		}
		bare = func() (float64, error) { return baseline(o.Tasks, par) }
	case strings.HasPrefix(o.Scenario, "container-"):
		par := 1
		if o.Scenario == "container-fanout" {
			par = o.Concurrency * o.Workers
		}
		bare = func() (float64, error) { return containerBaseline(ctx, o.ContainerHost, o.Image, o.Tasks, par) }
	}
	if bare != nil {
		b, err := bare()
		if err != nil {
			return nil, err
		}
		baseBefore = b
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
	storeName := "sqlite"
	if dbURL != "" {
		storeName = "postgres"
	}
	res := &Result{Scenario: o.Scenario, Store: storeName, Tasks: len(p.Tasks), Workers: o.Workers, WorkerProcs: o.WorkerProcs, Concurrency: o.Concurrency,
		CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), Date: time.Now().UTC().Format(time.RFC3339)}

	saved, err := st.PipelineSave(ctx, catalog.SaveParams(p, []byte(src), dir+"/bench.yaml"))
	if err != nil {
		return nil, err
	}
	// A worker checks this machine against every pipeline before it
	// claims (decoding a 10,000-task version and looking at each task):
	// startWorkers returns once every worker is past that, so the clock
	// starts as in a deployment whose workers were up before the run.
	stop, err := startWorkers(ctx, st, o, dbURL)
	if err != nil {
		return nil, err
	}
	defer stop()
	run, _, err := st.RunCreate(ctx, &store.RunCreateParams{PipelineID: p.ID, VersionID: saved.VersionID, Key: "bench", Kind: store.RunManual, LogicalDate: time.Now()})
	if err != nil {
		return nil, err
	}
	for {
		wake := st.Wait(store.TopicRuns)
		r, err := st.RunGet(ctx, run.ID)
		if err != nil {
			return nil, err
		}
		if r.State.Finished() {
			if r.State != sluice.RunSuccess {
				return nil, fmt.Errorf("benchmark run ended %s", r.State)
			}
			run = r
			break
		}
		select {
		case <-wake:
		case <-time.After(time.Second):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	res.Seconds = run.FinishedAt.Sub(run.CreatedAt).Seconds()
	res.TasksPerSec = float64(res.Tasks) / res.Seconds
	if bare != nil {
		b, err := bare()
		if err != nil {
			return nil, err
		}
		mean := (baseBefore + b) / 2
		res.BaselineBefore, res.BaselineAfter, res.BaselineSeconds = &baseBefore, &b, &mean
	}
	if err := hops(ctx, st, p, run.ID, res); err != nil {
		return nil, err
	}
	res.PeakRSSMB = peakRSSMB()
	return res, nil
}

// hops measures, for every task with upstream tasks, the time from the
// last upstream attempt finishing to its own attempt starting.
func hops(ctx context.Context, st store.Store, p *pipeline.Pipeline, runID int64, res *Result) error {
	atts, err := st.AttemptListByRun(ctx, runID)
	if err != nil {
		return err
	}
	byTask := map[string]*store.Attempt{}
	for _, a := range atts {
		if a.State == sluice.AttemptSuccess {
			byTask[a.TaskID] = a
		}
	}
	var ds []time.Duration
	for id, t := range p.Tasks {
		if len(t.DependsOn) == 0 {
			continue
		}
		a := byTask[id]
		if a == nil {
			return fmt.Errorf("task %s has no successful attempt", id)
		}
		var last time.Time
		for _, up := range t.DependsOn {
			u := byTask[up]
			if u == nil || u.FinishedAt == nil {
				return errors.New("upstream without a finished attempt")
			}
			if u.FinishedAt.After(last) {
				last = *u.FinishedAt
			}
		}
		ds = append(ds, a.StartedAt.Sub(last))
	}
	slices.Sort(ds)
	res.Hops = len(ds)
	if len(ds) > 0 {
		ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
		res.HopP50Ms = ms(ds[len(ds)*50/100])
		res.HopP99Ms = ms(ds[min(len(ds)-1, len(ds)*99/100)])
		res.HopMaxMs = ms(ds[len(ds)-1])
	}
	return nil
}

// baseline runs n bare fork/execs of the shell tasks' command, par at a
// time, and returns how long they took.
func baseline(n, par int) (float64, error) {
	return timed(n, par, func() error { return exec.Command("/bin/sh", "-c", "true").Run() })
}

// containerBaseline runs n bare containers of image running `true`
// through the engine's API (create, attach, start, wait, remove: what
// `docker run --rm` does), par at a time, and returns how long they took.
func containerBaseline(ctx context.Context, host, image string, n, par int) (float64, error) {
	e, err := docker.Open(host)
	if err != nil {
		return 0, err
	}
	defer e.Close()
	if err := e.Ping(ctx); err != nil {
		return 0, err
	}
	return timed(n, par, func() error {
		res := e.Run(ctx, &docker.Request{Image: image, Pull: docker.PullNever, Cmd: []string{"true"}})
		if res.State != sluice.AttemptSuccess {
			return fmt.Errorf("bare container: %s", res.Error)
		}
		return nil
	})
}

// timed runs job n times, par at a time, and returns how long that took
// and the last error a job returned.
func timed(n, par int, job func() error) (float64, error) {
	start := time.Now()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		ferr error
	)
	jobs := make(chan struct{})
	for i := 0; i < par; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				if err := job(); err != nil {
					mu.Lock()
					ferr = err
					mu.Unlock()
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		jobs <- struct{}{}
	}
	close(jobs)
	wg.Wait()
	return time.Since(start).Seconds(), ferr
}

// peakRSSMB reads the process's peak resident set size (VmHWM).
func peakRSSMB() float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			return kb / 1024
		}
	}
	return 0
}

// waitWorkers waits until n workers have registered.
func waitWorkers(ctx context.Context, st store.Store, n int) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		ws, err := st.WorkerList(ctx)
		if err != nil {
			return err
		}
		if len(ws) >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d workers registered after 60s", len(ws), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
