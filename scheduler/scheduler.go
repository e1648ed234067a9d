package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/metrics"
	"github.com/sluice-dev/sluice/pipeline"
	"github.com/sluice-dev/sluice/store"
	"github.com/sluice-dev/sluice/versions"
)

// Config configures a Scheduler. Zero values take the documented defaults.
type Config struct {
	Store store.Store
	// Versions is the cache of decoded versions, shared with the other
	// roles of the process (sluice server gives the worker the same);
	// nil makes one for this scheduler.
	Versions *versions.Cache
	// Clock tells when runs are due; default the store's (store.Clocked),
	// which the API and the UI show the next run by, else the system's.
	Clock sluice.Clock
	// Interval is the longest the scheduler sleeps between passes when no
	// change wakes it; default 1s.
	Interval time.Duration
	// ReapOrphans ends every running attempt as lost when the scheduler
	// starts. Only for a store one process owns (SQLite): there, any lease
	// still held belongs to a process that died.
	ReapOrphans bool
	Logger      *slog.Logger
	// Metrics records passes and lease expirations; nil records nothing.
	Metrics *metrics.Metrics
	// Retention is how long finished runs are kept when their pipeline
	// sets no retention; 0 keeps them forever.
	Retention time.Duration
	// RetentionEvery is how often retention runs, on whichever scheduler
	// takes the job; default 1h, negative for never.
	RetentionEvery time.Duration
	// ID names this scheduler as the holder of jobs; default host:pid.
	ID string
	// FilesPerScan bounds the files of a folder that a files trigger's
	// watcher looks at per scan; default MaxFilesPerScan.
	FilesPerScan int
}

// Scheduler runs the scheduling loop. Create it with New.
type Scheduler struct {
	cfg    Config
	st     store.Store
	log    *slog.Logger
	health *store.Health

	mu        sync.Mutex
	lastCheck time.Time // of waiting instances
	lastPrune time.Time // of forgotten workers

	vacuumOnce sync.Once // warns once that autovacuum is off

	files fileWatchers // the watchers of files triggers (files.go)

	created createdLog // the scheduled runs to tell (runlog.go)
}

// New returns a Scheduler for cfg.
func New(cfg Config) *Scheduler {
	if cfg.Clock == nil {
		cfg.Clock = sluice.SystemClock
		if c, ok := cfg.Store.(store.Clocked); ok {
			cfg.Clock = c.Clock()
		}
	}
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	if cfg.Versions == nil {
		cfg.Versions = versions.New(cfg.Store)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.FilesPerScan <= 0 {
		cfg.FilesPerScan = MaxFilesPerScan
	}
	if cfg.RetentionEvery == 0 {
		cfg.RetentionEvery = time.Hour
	}
	if cfg.ID == "" {
		host, _ := os.Hostname()
		cfg.ID = fmt.Sprintf("%s:%d:%s", host, os.Getpid(), randomSuffix())
	}
	s := &Scheduler{cfg: cfg, st: cfg.Store, log: cfg.Logger, health: store.NewHealth(cfg.Logger, "scheduler")}
	s.files.events.log = cfg.Logger
	return s
}

// Run schedules until ctx ends.
func (s *Scheduler) Run(ctx context.Context) error {
	if s.cfg.ReapOrphans {
		s.reapOrphans(ctx)
	}
	if s.cfg.RetentionEvery > 0 {
		done := make(chan struct{})
		defer func() { <-done }()
		go func() { defer close(done); s.retentionLoop(ctx) }()
	}
	filesDone := make(chan struct{})
	defer func() { <-filesDone }()
	go func() { defer close(filesDone); s.filesLoop(ctx) }()
	failures := 0
	for {
		wakeRuns := s.st.Wait(store.TopicRuns)
		wakePipelines := s.st.Wait(store.TopicPipelines)
		start := time.Now()
		next, err := s.Tick(ctx)
		s.cfg.Metrics.SchedulerPass(time.Since(start))
		if ctx.Err() != nil {
			return nil
		}
		s.health.Observe(err)
		wait := s.cfg.Interval
		if err != nil {
			failures++
			wait = store.Backoff(failures, 5*time.Second)
		} else {
			failures = 0
			if next != nil {
				if d := next.Sub(s.cfg.Clock.Now()); d < wait {
					wait = max(d, 0)
				}
			}
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-wakeRuns:
		case <-wakePipelines:
		case <-timer.C:
		}
		timer.Stop()
	}
}

func (s *Scheduler) reapOrphans(ctx context.Context) {
	total := 0
	for {
		reaped, err := s.st.AttemptReap(ctx, &store.AttemptReapParams{
			Reason: "lost: the sluice process running it stopped (killed or crashed) before it finished",
		})
		if err != nil {
			s.log.Error("could not requeue the attempts of the previous process", "err", err)
			return
		}
		total += len(reaped)
		if len(reaped) < 100 {
			break
		}
	}
	if total > 0 {
		s.log.Info("requeued attempts left running by a previous process", "attempts", total)
	}
}

// Tick makes one scheduling pass: due runs, queued runs, expired leases. It
// returns the earliest time a pipeline is next due, if any.
func (s *Scheduler) Tick(ctx context.Context) (*time.Time, error) {
	now := s.cfg.Clock.Now()
	var errs []error
	if err := s.reap(ctx, now); err != nil {
		errs = append(errs, err)
	}
	if now.Sub(s.lastCheck) >= checkEvery {
		s.lastCheck = now
		if err := s.checkWaiting(ctx, now); err != nil {
			errs = append(errs, err)
		}
	}
	due, err := s.st.PipelineListDue(ctx, now)
	if err != nil {
		return nil, errors.Join(append(errs, err)...)
	}
	var soonest *time.Time
	fail := func(id string, err error) {
		if sluice.ErrorCode(err) == sluice.EINTERNAL {
			errs = append(errs, err)
		} else {
			s.log.Error("cannot schedule pipeline", "pipeline", id, "err", err)
		}
	}
	done := func(b *store.ScheduledRuns, runs []store.RunCreated) {
		for _, r := range runs {
			if r.Created {
				s.created.add(s.log, r.Run)
			}
		}
		// A next time in the past is a backlog waiting for room under
		// max_active_runs: a finishing run wakes us, not the clock.
		if next := b.NextDue; next != nil && next.After(now) && (soonest == nil || next.Before(*soonest)) {
			soonest = next
		}
	}
	// The runs of a pass are created in batches, a transaction each: one
	// transaction per pipeline left 2,000 pipelines due in the same second
	// with runs queued up to 2.2 s late, most of it in SQLite's commits
	// (bench/RESULTS.md, 2026-12-04). Tasks bound a batch too, so that big
	// pipelines do not hold the writer long.
	var (
		batch []*store.ScheduledRuns
		tasks int
	)
	flush := func() {
		if len(batch) == 0 {
			return
		}
		created, err := s.st.RunCreateScheduled(ctx, batch)
		if err == nil {
			for i, b := range batch {
				done(b, created[i])
			}
		} else {
			// One pipeline's error fails the whole batch: create them one by
			// one, so that the others get their runs and each error is told
			// with its pipeline.
			for _, b := range batch {
				runs, err := s.createOne(ctx, b)
				if err != nil {
					fail(b.PipelineID, err)
					continue
				}
				done(b, runs)
			}
		}
		batch, tasks = nil, 0
	}
	for _, sp := range due {
		b, n, err := s.plan(ctx, sp, now)
		if err != nil {
			fail(sp.ID, err)
			continue
		}
		batch = append(batch, b)
		tasks += n * len(b.Runs)
		if len(batch) >= batchPipelines || tasks >= batchTasks {
			flush()
		}
	}
	flush()
	s.created.flush(s.log, now)
	// The pipelines not due in this pass have their next times too: a pass
	// woken early (by a run finishing, a file changing) must not forget
	// them and sleep the whole Interval past them.
	if at, err := s.st.PipelineNextDue(ctx, now); err != nil {
		errs = append(errs, err)
	} else if at != nil && (soonest == nil || at.Before(*soonest)) {
		soonest = at
	}
	return soonest, errors.Join(errs...)
}

// reap takes back every lease that expired.
func (s *Scheduler) reap(ctx context.Context, now time.Time) error {
	for {
		reaped, err := s.st.AttemptReap(ctx, &store.AttemptReapParams{
			ExpiredBefore: now,
			Reason:        "lost: its worker stopped renewing the lease (the worker died, hung or lost the database)",
		})
		if err != nil {
			return err
		}
		s.cfg.Metrics.LeasesExpired(len(reaped))
		for _, a := range reaped {
			s.log.Warn("lease expired; attempt requeued as lost", "run", a.RunID, "task", a.TaskID, "attempt", a.Number, "worker", a.Worker)
		}
		if len(reaped) < 100 {
			return nil
		}
	}
}

// A pass creates runs in transactions of at most batchPipelines
// pipelines, or of batchTasks tasks once a batch has that many.
const (
	batchPipelines = 100
	batchTasks     = 5000
)

// plan decides the due runs of one pipeline and when it is next due, and
// returns them with the pipeline's number of tasks.
func (s *Scheduler) plan(ctx context.Context, sp *store.Pipeline, now time.Time) (*store.ScheduledRuns, int, error) {
	p, err := s.version(ctx, sp.VersionID)
	if err != nil {
		return nil, 0, err
	}
	active, err := s.st.RunCountActive(ctx, sp.ID)
	if err != nil {
		return nil, 0, err
	}
	// Active counts queued runs as well as running ones, and starting a
	// queued run leaves it active: with none, there is nothing to start,
	// and the write transaction that would find so is skipped (a third of
	// a due pipeline's cost). A run queued after the count wakes a pass.
	if active > 0 {
		if _, err := s.st.RunStartQueued(ctx, sp.ID); err != nil {
			return nil, 0, err
		}
	}
	due := PlanDue(p, sp.LastScheduledAt, now, sp.MaxActiveRuns-active)
	b := &store.ScheduledRuns{PipelineID: sp.ID, NextDue: due.Next}
	if len(due.Dates) > 0 {
		params, err := p.BindParams(nil)
		if err != nil {
			return nil, 0, sluice.Errorf(sluice.EINVALID, "scheduled runs need a default for every required param: %v", err)
		}
		raw, err := json.Marshal(params)
		if err != nil {
			return nil, 0, err
		}
		for _, d := range due.Dates {
			b.Runs = append(b.Runs, &store.RunCreateParams{
				PipelineID: sp.ID, VersionID: sp.VersionID, Key: RunKey(d), Kind: store.RunScheduled, LogicalDate: d, Params: raw,
			})
		}
	}
	return b, len(p.Tasks), nil
}

// createOne creates the runs of one pipeline and sets when it is next
// due, a transaction each, as a pass did before it batched them.
func (s *Scheduler) createOne(ctx context.Context, b *store.ScheduledRuns) ([]store.RunCreated, error) {
	var out []store.RunCreated
	for _, p := range b.Runs {
		run, created, err := s.st.RunCreate(ctx, p)
		if err != nil {
			return nil, err
		}
		out = append(out, store.RunCreated{Run: run, Created: created})
	}
	return out, s.st.PipelineSetNextDue(ctx, b.PipelineID, b.NextDue)
}

// version returns a decoded version from the process's Cache (see
// package versions: it keeps every version a pass used in the last
// versions.Idle, however many pipelines there are).
func (s *Scheduler) version(ctx context.Context, id int64) (*pipeline.Pipeline, error) {
	v, err := s.cfg.Versions.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	return v.Pipeline, nil
}
