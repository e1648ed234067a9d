package scheduler

import (
	"log/slog"
	"time"

	"github.com/sluice-dev/sluice/store"
)

// createdSummaryEvery is how often, at most, the scheduler logs the
// scheduled runs it created at Info. With 2,000 pipelines on "@every 1m",
// a line per run was 2,000 lines a minute that said nothing the runs list
// does not; each run still has its line at Debug.
const createdSummaryEvery = time.Minute

// createdLog gathers the scheduled runs created since the last Info line
// about them.
type createdLog struct {
	runs      int
	pipelines map[string]bool
	// one is the run when there is only one, told in full as before.
	one  *store.Run
	last time.Time // of the last Info line
}

// add records a created run, with its Debug line.
func (c *createdLog) add(log *slog.Logger, r *store.Run) {
	log.Debug("scheduled run created", "pipeline", r.PipelineID, "run", r.ID, "logical_date", r.LogicalDate.Format(time.RFC3339), "state", string(r.State))
	if c.pipelines == nil {
		c.pipelines = map[string]bool{}
	}
	c.runs++
	c.pipelines[r.PipelineID] = true
	c.one = r
}

// flush writes the Info line when runs were created and the last line is
// createdSummaryEvery old: the first runs after a quiet spell are told at
// once (a single one with its pipeline, run and logical date, as each run
// used to be), the runs of a busy spell once a minute, counted.
func (c *createdLog) flush(log *slog.Logger, now time.Time) {
	if c.runs == 0 || now.Sub(c.last) < createdSummaryEvery {
		return
	}
	if c.runs == 1 {
		r := c.one
		log.Info("scheduled run created", "pipeline", r.PipelineID, "run", r.ID, "logical_date", r.LogicalDate.Format(time.RFC3339), "state", string(r.State))
	} else {
		attrs := []any{"runs", c.runs, "pipelines", len(c.pipelines)}
		if !c.last.IsZero() {
			attrs = append(attrs, "since", c.last.Format(time.RFC3339))
		}
		log.Info("scheduled runs created", attrs...)
	}
	*c = createdLog{last: now}
}
