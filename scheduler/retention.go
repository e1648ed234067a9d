package scheduler

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/sluice-dev/sluice/store"
)

// RetentionJob is the name of the retention job's lease.
const RetentionJob = "retention"

// retentionLease is how long a scheduler holds the retention job between
// renewals: if it dies, another takes over after this.
const retentionLease = time.Minute

// retentionPause separates batches, so pruning yields the database to the
// work it is there for.
const retentionPause = 20 * time.Millisecond

// retentionLoop tries, a few times per interval, to take the retention job;
// the scheduler that gets it prunes, and the others find it done.
func (s *Scheduler) retentionLoop(ctx context.Context) {
	check := min(max(s.cfg.RetentionEvery/4, 100*time.Millisecond), time.Minute)
	for {
		if _, err := s.Prune(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("retention did not finish; it will try again", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(check):
		}
	}
}

// Prune runs the retention job if this scheduler can take it: it deletes
// finished runs past their retention in small batches, renewing its lease
// between them. It returns what it deleted, nil when the job was not its
// to run.
func (s *Scheduler) Prune(ctx context.Context) (*store.PruneResult, error) {
	ok, err := s.st.JobAcquire(ctx, &store.JobAcquireParams{
		Name: RetentionJob, Holder: s.cfg.ID, Lease: retentionLease, Every: s.cfg.RetentionEvery,
		Config: RetentionConfig{Default: s.cfg.Retention, Every: s.cfg.RetentionEvery}.String(),
	})
	if err != nil || !ok {
		return nil, err
	}
	total := &store.PruneResult{Rows: map[string]int64{}}
	params := &store.RetentionParams{Default: s.cfg.Retention}
	for {
		res, err := s.st.RetentionPrune(ctx, params)
		if err != nil {
			return total, err
		}
		for kind, n := range res.Rows {
			total.Rows[kind] += n
			s.cfg.Metrics.Pruned(kind, int(n))
		}
		total.LogBytes += res.LogBytes
		if !res.More {
			break
		}
		held, err := s.st.JobRenew(ctx, RetentionJob, s.cfg.ID, retentionLease)
		if err != nil {
			return total, err
		}
		if !held {
			return total, fmt.Errorf("retention: lost the job's lease to another scheduler")
		}
		select {
		case <-ctx.Done():
			return total, ctx.Err()
		case <-time.After(retentionPause):
		}
	}
	summary := fmt.Sprintf("pruned %d runs, %d task instances, %d attempts, %d log chunks (%d bytes), %d outputs, %d asset events",
		total.Rows["runs"], total.Rows["instances"], total.Rows["attempts"], total.Rows["log_chunks"], total.LogBytes, total.Rows["outputs"], total.Rows["asset_events"])
	if total.Rows["runs"] > 0 || total.Rows["asset_events"] > 0 {
		s.log.Info("retention "+summary, "retention", s.cfg.Retention.String())
	}
	vacuumed, err := s.st.RetentionVacuum(ctx)
	if err != nil {
		return total, err
	}
	if vacuumed != "" {
		summary += "; " + vacuumed
		s.vacuumOnce.Do(func() {
			s.log.Warn("PostgreSQL's autovacuum is off: the retention job vacuums sluice's tables itself every --retention-every; turn autovacuum on to let PostgreSQL do it as rows change")
		})
	}
	return total, s.st.JobDone(ctx, RetentionJob, s.cfg.ID, summary)
}

func randomSuffix() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// RetentionConfig is the retention the schedulers apply, as they record
// it with the job, so that web processes can show and use it.
type RetentionConfig struct {
	Default time.Duration
	Every   time.Duration
}

func (c RetentionConfig) String() string {
	b, _ := json.Marshal(map[string]int64{"default_retention_us": c.Default.Microseconds(), "every_us": c.Every.Microseconds()})
	return string(b)
}

// ParseRetentionConfig reads what String wrote; ok is false when there is
// nothing to read (no scheduler recorded it yet).
func ParseRetentionConfig(s string) (c RetentionConfig, ok bool) {
	var m map[string]int64
	if s == "" || json.Unmarshal([]byte(s), &m) != nil {
		return c, false
	}
	return RetentionConfig{Default: time.Duration(m["default_retention_us"]) * time.Microsecond, Every: time.Duration(m["every_us"]) * time.Microsecond}, true
}
