package bench

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sluice-dev/sluice/catalog"
	"github.com/sluice-dev/sluice/pipeline"
	"github.com/sluice-dev/sluice/scheduler"
	"github.com/sluice-dev/sluice/store"
	"github.com/sluice-dev/sluice/store/sqlite"
	"github.com/sluice-dev/sluice/worker"
)

// SoakOptions configure Soak.
type SoakOptions struct {
	// Instances is how many task instances to run in all; default 100,000.
	Instances int
	// Retention is how long finished runs are kept; default 20s, so the
	// soak reaches the steady state a real retention reaches in weeks.
	Retention time.Duration
	// RetentionEvery is how often retention runs; default 2s.
	RetentionEvery time.Duration
	// Concurrency is the worker's slots; default 16.
	Concurrency int
	// ActiveRuns is how many runs are kept going at once; default 16.
	ActiveRuns int
	// Sample is how often the database size is sampled; default 5s.
	Sample time.Duration
	// DB and Sync choose the store, as in Options.
	DB   string
	Sync string
	// Progress, when set, receives each sample as it is taken.
	Progress func(SoakSample)
}

// SoakSample is the state of the database at one moment of a soak.
type SoakSample struct {
	Seconds float64 `json:"seconds"`
	// Done counts the task instances finished so far.
	Done int `json:"instances_done"`
	// Rows counts the task instances in the database now.
	Rows int64 `json:"instance_rows"`
	// Bytes is the database's size: the SQLite file (without its WAL),
	// or the schema's tables and indexes on PostgreSQL.
	Bytes int64 `json:"bytes"`
	// WALBytes is the SQLite write-ahead log's size.
	WALBytes int64 `json:"wal_bytes,omitempty"`
}

// SoakResult is a soak's figures.
type SoakResult struct {
	Store          string       `json:"store"`
	Instances      int          `json:"instances"`
	Runs           int          `json:"runs"`
	Seconds        float64      `json:"seconds"`
	InstancesPerS  float64      `json:"instances_per_sec"`
	Retention      string       `json:"retention"`
	Samples        []SoakSample `json:"samples"`
	PeakRows       int64        `json:"peak_instance_rows"`
	FinalRows      int64        `json:"final_instance_rows"`
	HalfBytes      int64        `json:"bytes_at_half"`
	FinalBytes     int64        `json:"bytes_at_end"`
	PeakBytes      int64        `json:"peak_bytes"`
	GrowthLastHalf float64      `json:"growth_last_half"`
	PeakRSSMB      float64      `json:"peak_rss_mb"`
	Date           string       `json:"date"`
	CPUs           int          `json:"cpus"`
}

// soakTasks is the number of task instances of one soak run.
const soakTasks = 10

// soakSource is the soak's pipeline: a shell task that logs and reports an
// output and a volume, eight noop tasks, and a shell join that logs.
func soakSource() string {
	var b strings.Builder
	b.WriteString(`id: soak
max_active_runs: 1000
tasks:
  extract:
    run: |
      echo "extracting partition $SLUICE_RUN_ID"
      echo "rows=1000" >> "$SLUICE_OUTPUT"
      echo "metric.rows=1000" >> "$SLUICE_OUTPUT"
`)
	for i := 0; i < soakTasks-2; i++ {
		fmt.Fprintf(&b, "  part%d:\n    noop: true\n    depends_on: [extract]\n", i)
	}
	b.WriteString("  load:\n    run: echo \"loaded $SLUICE_OUTPUT_EXTRACT_ROWS rows\"\n    depends_on: [extract, ")
	for i := 0; i < soakTasks-2; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "part%d", i)
	}
	b.WriteString("]\n")
	return b.String()
}

// Soak runs the whole engine — scheduler with retention, worker, store —
// on a steady stream of runs until o.Instances task instances finished,
// sampling the database's size, to show that retention keeps it level.
func Soak(ctx context.Context, o SoakOptions) (*SoakResult, error) {
	if o.Instances <= 0 {
		o.Instances = 100_000
	}
	if o.Retention <= 0 {
		o.Retention = 20 * time.Second
	}
	if o.RetentionEvery <= 0 {
		o.RetentionEvery = 2 * time.Second
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 16
	}
	if o.ActiveRuns <= 0 {
		o.ActiveRuns = 16
	}
	if o.Sample <= 0 {
		o.Sample = 5 * time.Second
	}
	src := soakSource()
	p, err := pipeline.Parse("soak.yaml", []byte(src))
	if err != nil {
		return nil, fmt.Errorf("soak pipeline: %w", err)
	}
	dir, err := os.MkdirTemp("", "sluice-soak-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	st, dbURL, cleanup, err := openStore(ctx, Options{DB: o.DB, Sync: o.Sync}, dir)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	raw, ok := st.(interface{ Write() *sql.DB })
	if !ok {
		return nil, fmt.Errorf("soak: the store does not expose its database")
	}
	res := &SoakResult{Store: "sqlite", Retention: o.Retention.String(), Date: time.Now().UTC().Format(time.RFC3339), CPUs: runtime.NumCPU()}
	if dbURL != "" {
		res.Store = "postgres"
	}
	saved, err := st.PipelineSave(ctx, catalog.SaveParams(p, []byte(src), ""))
	if err != nil {
		return nil, err
	}

	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	wctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { stop(); wg.Wait() }()
	sch := scheduler.New(scheduler.Config{Store: st, Logger: quiet, Retention: o.Retention, RetentionEvery: o.RetentionEvery})
	w, err := worker.New(worker.Config{Store: st, Concurrency: o.Concurrency, Logger: quiet, ID: "soak"})
	if err != nil {
		return nil, err
	}
	wg.Add(2)
	go func() { defer wg.Done(); _ = sch.Run(wctx) }()
	go func() { defer wg.Done(); _ = w.Run(wctx) }()

	start := time.Now()
	sample := func(done int) (SoakSample, error) {
		s := SoakSample{Seconds: time.Since(start).Seconds(), Done: done}
		if err := raw.Write().QueryRowContext(ctx, `SELECT COUNT(*) FROM task_instances`).Scan(&s.Rows); err != nil {
			return s, err
		}
		if dbURL == "" {
			s.Bytes = fileSize(filepath.Join(dir, sqlite.FileName))
			s.WALBytes = fileSize(filepath.Join(dir, sqlite.FileName+"-wal"))
		} else if err := raw.Write().QueryRowContext(ctx, `SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0)
			FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = current_schema() AND c.relkind = 'r'`).Scan(&s.Bytes); err != nil {
			return s, err
		}
		return s, nil
	}
	record := func(s SoakSample) {
		res.Samples = append(res.Samples, s)
		res.PeakRows = max(res.PeakRows, s.Rows)
		res.PeakBytes = max(res.PeakBytes, s.Bytes)
		if o.Progress != nil {
			o.Progress(s)
		}
	}

	// Keep ActiveRuns runs going: start one whenever one finishes.
	runs := o.Instances / soakTasks
	active := map[int64]bool{}
	created, finished := 0, 0
	nextSample := start.Add(o.Sample)
	for finished < runs {
		for created < runs && len(active) < o.ActiveRuns {
			r, _, err := st.RunCreate(ctx, &store.RunCreateParams{PipelineID: p.ID, VersionID: saved.VersionID,
				Key: "soak_" + strconv.Itoa(created), Kind: store.RunManual, LogicalDate: time.Now()})
			if err != nil {
				return nil, err
			}
			active[r.ID] = true
			created++
		}
		wake := st.Wait(store.TopicRuns)
		for id := range active {
			r, err := st.RunGet(ctx, id)
			if err != nil {
				return nil, err
			}
			if r.State.Finished() {
				if string(r.State) != "success" {
					return nil, fmt.Errorf("soak run %d ended %s", id, r.State)
				}
				delete(active, id)
				finished++
			}
		}
		if now := time.Now(); now.After(nextSample) {
			nextSample = now.Add(o.Sample)
			s, err := sample(finished * soakTasks)
			if err != nil {
				return nil, err
			}
			record(s)
			if res.HalfBytes == 0 && finished >= runs/2 {
				res.HalfBytes = s.Bytes
			}
		}
		select {
		case <-wake:
		case <-time.After(time.Second):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	res.Seconds = time.Since(start).Seconds()
	res.Runs = runs
	res.Instances = runs * soakTasks
	res.InstancesPerS = float64(res.Instances) / res.Seconds
	final, err := sample(res.Instances)
	if err != nil {
		return nil, err
	}
	record(final)
	res.FinalRows, res.FinalBytes = final.Rows, final.Bytes
	if res.HalfBytes > 0 {
		res.GrowthLastHalf = float64(res.FinalBytes-res.HalfBytes) / float64(res.HalfBytes)
	}
	res.PeakRSSMB = peakRSSMB()
	return res, nil
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}
