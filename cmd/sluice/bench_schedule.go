package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/server"
	"github.com/sluice-dev/sluice/store/sqlite"
)

// The schedule benchmark: many pipelines on a short schedule, in the
// roles of 'sluice server' (scheduler, loader, workers) in this process on
// SQLite (issue 15 item 2 asks that 2,000 pipelines on "@every 1m" each
// get every run queued within 1 s of its due time, and that loading their
// 2,000 files takes at most 5 s).

// scheduleBenchResult is what 'sluice bench schedule' measures.
type scheduleBenchResult struct {
	Pipelines int     `json:"pipelines"`
	Every     string  `json:"every"`
	Seconds   float64 `json:"seconds"`
	// LoadSeconds is from the start of the server (opening the store
	// included) until every pipeline file is loaded.
	LoadSeconds float64 `json:"load_seconds"`
	// Runs counts every scheduled run; Delay is over the runs after each
	// pipeline's first (the first is due when its file loads, so its delay
	// says nothing about the schedule): the time from the run's logical
	// date (its due time) to its creation, when its task is queued.
	Runs  int        `json:"runs"`
	Delay *latencyMs `json:"delay"`
	// Late counts the runs (of those in Delay) queued more than 1 s after
	// their due time.
	Late int `json:"late"`
	// CPUShare is this process's CPU time over the wall time after the
	// load (scheduler, workers running the noop tasks, SQLite), in cores.
	CPUShare float64 `json:"cpu_share"`
	// LoadCPUSeconds is the CPU time of the start and the load.
	LoadCPUSeconds float64 `json:"load_cpu_seconds"`
	PeakRSSMB      float64 `json:"peak_rss_mb"`
}

type latencyMs struct {
	N     int     `json:"n"`
	P50Ms float64 `json:"p50_ms"`
	P99Ms float64 `json:"p99_ms"`
	MaxMs float64 `json:"max_ms"`
}

func benchScheduleCmd() *cobra.Command {
	var (
		pipelines  int
		every      string
		duration   time.Duration
		asJSON     bool
		cpuProfile string
	)
	cmd := &cobra.Command{
		Use:   "schedule",
		Short: "Measure the scheduler on many pipelines on a short schedule",
		Long: `Write --pipelines pipeline files, each on the schedule --every with one
noop task, start the roles of 'sluice server' (loader, scheduler,
workers) on them in this process, on a fresh temporary SQLite store, for
--duration, and report: how long loading the files took, the delay from
each scheduled run's due time (its logical date) to its creation, when
its task is queued (p50/p99/max over every run after each pipeline's
first; the target is 1 s), and the process's CPU time over wall time
after the load. The targets at 2,000 pipelines: every run queued within
1 s, and the load within 5 s.`,
		Example: "  sluice bench schedule --pipelines 2000 --duration 3m\n  sluice bench schedule --pipelines 2000 --duration 3m --cpuprofile sched.pprof",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if pipelines < 1 {
				return exitWith(2, fmt.Errorf("--pipelines %d: want 1 or more", pipelines))
			}
			stop, err := startCPUProfile(cpuProfile)
			if err != nil {
				return err
			}
			defer stop()
			res, err := runScheduleBench(cmd.Context(), pipelines, every, duration)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return json.NewEncoder(out).Encode(res)
			}
			fmt.Fprintf(out, "scenario      schedule (sqlite, %d pipelines on %q, %.0f s)\n", res.Pipelines, res.Every, res.Seconds)
			fmt.Fprintf(out, "load          %.2f s (%.2f s of CPU)\n", res.LoadSeconds, res.LoadCPUSeconds)
			fmt.Fprintf(out, "runs          %d\n", res.Runs)
			if d := res.Delay; d != nil {
				fmt.Fprintf(out, "queued delay  p50/p99 %.1f / %.1f ms (max %.1f, n %d, %d over 1 s)\n", d.P50Ms, d.P99Ms, d.MaxMs, d.N, res.Late)
			}
			fmt.Fprintf(out, "CPU share     %.3f cores after the load\n", res.CPUShare)
			fmt.Fprintf(out, "peak RSS      %.1f MB\n", res.PeakRSSMB)
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&pipelines, "pipelines", 2000, "pipelines, one file each")
	f.StringVar(&every, "every", "1m", "their schedule: @every this")
	f.DurationVar(&duration, "duration", 3*time.Minute, "how long to run the schedule after the load")
	f.BoolVar(&asJSON, "json", false, "print one JSON object")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the whole benchmark to this file")
	return cmd
}

// loadCounter counts the pipelines the loader reports loaded, and drops
// every record (formatting logs is not what is measured).
type loadCounter struct {
	slog.Handler
	loaded atomic.Int64
	errs   sync.Map // the first error records, shown if the run fails
}

func (h *loadCounter) Enabled(context.Context, slog.Level) bool { return true }

func (h *loadCounter) Handle(_ context.Context, r slog.Record) error {
	switch {
	case r.Message == "pipeline loaded":
		h.loaded.Add(1)
	case r.Level >= slog.LevelError:
		h.errs.LoadOrStore(r.Message, r.Message)
	}
	return nil
}

func (h *loadCounter) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *loadCounter) WithGroup(string) slog.Handler      { return h }

func runScheduleBench(ctx context.Context, n int, every string, duration time.Duration) (*scheduleBenchResult, error) {
	dir, err := os.MkdirTemp("", "sluice-bench-schedule-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	files := filepath.Join(dir, "pipelines")
	if err := os.Mkdir(files, 0o755); err != nil {
		return nil, err
	}
	for i := range n {
		src := fmt.Sprintf("id: every_%05d\nschedule: \"@every %s\"\ntasks:\n  t:\n    noop: true\n", i, every)
		if err := os.WriteFile(filepath.Join(files, fmt.Sprintf("every_%05d.yaml", i)), []byte(src), 0o644); err != nil {
			return nil, err
		}
	}
	home := filepath.Join(dir, "home")
	h := &loadCounter{}
	res := &scheduleBenchResult{Pipelines: n, Every: "@every " + every}

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	cpu0, start := cpuTime(), time.Now()
	go func() {
		done <- server.Run(runCtx, server.Config{
			Home: home, Pipelines: files, Scheduler: true, Worker: true, Concurrency: 16,
			Lease: 30 * time.Second, Poll: time.Second, Rescan: 2 * time.Second,
			RetentionEvery: -1, DrainTimeout: 10 * time.Second, KillGrace: time.Second,
			ContainerHost: "none", Logger: slog.New(h), Holder: "sluice bench schedule",
		}, nil)
	}()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for h.loaded.Load() < int64(n) {
		select {
		case err := <-done:
			return nil, fmt.Errorf("the server stopped while loading (%d of %d pipelines loaded): %v %v", h.loaded.Load(), n, err, errorsOf(h))
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
	}
	loaded, cpuLoaded := time.Now(), cpuTime()
	res.LoadSeconds = loaded.Sub(start).Seconds()
	res.LoadCPUSeconds = (cpuLoaded - cpu0).Seconds()
	select {
	case err := <-done:
		return nil, fmt.Errorf("the server stopped: %v %v", err, errorsOf(h))
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(duration):
	}
	res.CPUShare = (cpuTime() - cpuLoaded).Seconds() / time.Since(loaded).Seconds()
	res.Seconds = time.Since(loaded).Seconds()
	stop()
	if err := <-done; err != nil {
		return nil, err
	}
	res.PeakRSSMB = peakRSSMB()

	// The server has closed the store: read what it recorded.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(home, sqlite.FileName)+"?mode=ro")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT created_at - logical_date, logical_date = (SELECT min(r2.logical_date) FROM runs r2 WHERE r2.pipeline_id = runs.pipeline_id)
		FROM runs WHERE kind = 'scheduled'`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var delays []time.Duration
	for rows.Next() {
		var us int64
		var first bool
		if err := rows.Scan(&us, &first); err != nil {
			return nil, err
		}
		res.Runs++
		if !first {
			delays = append(delays, time.Duration(us)*time.Microsecond)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(delays) > 0 {
		slices.Sort(delays)
		ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
		res.Delay = &latencyMs{N: len(delays), P50Ms: ms(delays[len(delays)/2]), P99Ms: ms(delays[(len(delays)*99+99)/100-1]), MaxMs: ms(delays[len(delays)-1])}
		for _, d := range delays {
			if d > time.Second {
				res.Late++
			}
		}
	}
	return res, nil
}

func errorsOf(h *loadCounter) []string {
	var out []string
	h.errs.Range(func(k, _ any) bool { out = append(out, k.(string)); return len(out) < 5 })
	return out
}
